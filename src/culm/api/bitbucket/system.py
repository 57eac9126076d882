"""System information: application properties (clients read `version` to pick features)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from culm import BITBUCKET_COMPAT_BUILD, BITBUCKET_COMPAT_VERSION
from culm.api.bitbucket import A
from culm.api.deps import principal
from culm.domain.permissions.service import Principal

router = APIRouter()


@router.get(A + "/application-properties")
def application_properties(_: Principal = Depends(principal)) -> dict:
    return {
        "version": BITBUCKET_COMPAT_VERSION,
        "buildNumber": BITBUCKET_COMPAT_BUILD,
        "buildDate": "1735689600000",
        "displayName": "Bitbucket",
    }
