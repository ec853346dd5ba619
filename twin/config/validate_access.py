"""Cross-checks of the raw ``access:`` section: the tenants and sites its programmes name
exist, a tenant belongs to one programme at most, and no site is reserved beyond its whole."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from twin.config.errors import ConfigIssue
from twin.config.raw_checks import known


def check_access(data: dict[str, Any], site_ids: list[str]) -> list[ConfigIssue]:
    """Every reference in ``access`` points at something that exists; shares fit."""
    access = data.get("access")
    programmes = access.get("programmes") if isinstance(access, dict) else None
    if not isinstance(programmes, dict):
        return []
    tenants = list(data["tenants"]) if isinstance(data.get("tenants"), dict) else []
    issues: list[ConfigIssue] = []
    owner: dict[str, str] = {}
    reserved: dict[str, float] = defaultdict(float)
    for name, programme in programmes.items():
        if not isinstance(programme, dict):
            continue
        path = f"access.programmes.{name}"
        for j, tenant in enumerate(programme.get("tenants") or []):
            if not isinstance(tenant, str):
                continue
            if tenant not in tenants:
                issues.append(
                    ConfigIssue(
                        f"{path}.tenants[{j}]", f"unknown tenant {tenant!r}; {known(tenants)}"
                    )
                )
            elif tenant in owner:
                issues.append(
                    ConfigIssue(
                        f"{path}.tenants[{j}]",
                        f"tenant {tenant!r} is already covered by programme {owner[tenant]!r}; "
                        "a tenant belongs to one programme at most",
                    )
                )
            else:
                owner[tenant] = name
        sites = programme.get("sites")
        for j, site in enumerate(sites if isinstance(sites, list) else []):
            if isinstance(site, str) and site not in site_ids:
                issues.append(
                    ConfigIssue(f"{path}.sites[{j}]", f"unknown site {site!r}; {known(site_ids)}")
                )
        share = programme.get("reserved_share")
        if isinstance(share, (int, float)) and not isinstance(share, bool):
            covered = sites if isinstance(sites, list) else site_ids
            for site in covered:
                if isinstance(site, str):
                    reserved[site] += float(share)
    for site, share in reserved.items():
        if share > 1.0 + 1e-12:
            issues.append(
                ConfigIssue(
                    "access.programmes",
                    f"programmes reserve {share:.0%} of site {site!r}; at most 100% can be",
                )
            )
    return issues
