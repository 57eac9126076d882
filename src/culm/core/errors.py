"""Typed service errors. The API layer maps each to Bitbucket's error body (or Bamboo's)."""

from __future__ import annotations

_BB = "com.atlassian.bitbucket."


class CulmError(Exception):
    status = 400
    exception_name = _BB + "ServiceException"

    def __init__(self, message: str, context: str | None = None, **extra: object) -> None:
        super().__init__(message)
        self.message = message
        self.context = context
        self.extra = extra


class ValidationError(CulmError):
    status = 400
    exception_name = _BB + "validation.ArgumentValidationException"


class BadRequest(CulmError):
    status = 400
    exception_name = _BB + "ServiceException"


class AuthenticationRequired(CulmError):
    status = 401
    exception_name = "com.atlassian.plugins.rest.api.security.exception.AuthenticationRequiredException"


class IncorrectCredentials(CulmError):
    status = 401
    exception_name = _BB + "auth.IncorrectPasswordAuthenticationException"


class TooManyFailedLogins(CulmError):
    status = 401
    exception_name = _BB + "auth.CaptchaRequiredAuthenticationException"


class PermissionDenied(CulmError):
    """Bitbucket answers 401, not 403, to an authenticated user who lacks a permission."""

    status = 401
    exception_name = _BB + "AuthorisationException"


class Forbidden(CulmError):
    status = 403
    exception_name = _BB + "AuthorisationException"


class NotFound(CulmError):
    status = 404
    exception_name = _BB + "NoSuchEntityException"


class NoSuchProject(NotFound):
    exception_name = _BB + "project.NoSuchProjectException"


class NoSuchRepository(NotFound):
    exception_name = _BB + "repository.NoSuchRepositoryException"


class NoSuchUser(NotFound):
    exception_name = _BB + "user.NoSuchUserException"


class NoSuchGroup(NotFound):
    exception_name = _BB + "user.NoSuchGroupException"


class Conflict(CulmError):
    status = 409
    exception_name = _BB + "IntegrityException"


class DuplicateEntity(Conflict):
    exception_name = _BB + "DuplicateEntityException"


class UnsupportedMediaType(CulmError):
    status = 415
    exception_name = "com.sun.jersey.api.client.UnsupportedMediaTypeException"


# -- repository content ---------------------------------------------------------------------------
class NoSuchCommit(NotFound):
    exception_name = _BB + "commit.NoSuchCommitException"


class NoSuchBranch(NotFound):
    exception_name = _BB + "repository.NoSuchBranchException"


class NoSuchTag(NotFound):
    exception_name = _BB + "repository.NoSuchTagException"


class NoSuchPath(NotFound):
    exception_name = _BB + "content.NoSuchPathException"


class DuplicateRef(CulmError):
    """Bitbucket answers 400 (not 409) when a branch or tag of that name already exists."""

    status = 400
    exception_name = _BB + "repository.DuplicateRefException"


class StaleRef(Conflict):
    """A compare-and-swap ref update lost the race: the ref moved since it was read."""

    exception_name = _BB + "repository.RefOutOfDateException"


# -- pull requests --------------------------------------------------------------------------------
class NoSuchPullRequest(NotFound):
    exception_name = _BB + "pull.NoSuchPullRequestException"


class PullRequestOutOfDate(Conflict):
    exception_name = _BB + "pull.PullRequestOutOfDateException"


class IllegalPullRequestState(Conflict):
    exception_name = _BB + "pull.IllegalPullRequestStateException"


class PullRequestMergeVetoed(Conflict):
    """A merge refused by merge checks or conflicts; the error carries `conflicted` and `vetoes`."""

    exception_name = _BB + "pull.PullRequestMergeVetoedException"


class PullRequestRebaseConflict(Conflict):
    """A pull request rebase that hit conflicts or would leave the pull request empty (409)."""

    exception_name = _BB + "scm.git.rebase.GitRebaseException"


class DuplicatePullRequest(Conflict):
    exception_name = _BB + "pull.DuplicatePullRequestException"


class EmptyPullRequest(Conflict):
    exception_name = _BB + "pull.EmptyPullRequestException"


class InvalidPullRequestTarget(Conflict):
    exception_name = _BB + "pull.InvalidPullRequestTargetException"


class InvalidPullRequestReviewers(Conflict):
    exception_name = _BB + "pull.InvalidPullRequestReviewersException"


class InvalidPullRequestParticipant(CulmError):
    status = 400
    exception_name = _BB + "pull.InvalidPullRequestParticipantException"


class NoSuchComment(NotFound):
    exception_name = _BB + "comment.NoSuchCommentException"


class CommentOutOfDate(Conflict):
    exception_name = _BB + "comment.CommentOutOfDateException"


class CommentDeletion(Conflict):
    exception_name = _BB + "comment.CommentDeletionException"
