"""culm: a git forge and CI server speaking the Bitbucket DC and Bamboo REST APIs."""

__version__ = "0.1.0"
# The Bitbucket version culm answers as: clients compare it to enable features.
BITBUCKET_COMPAT_VERSION = "10.4.0"
BITBUCKET_COMPAT_BUILD = "10004000"
