"""Cross-checks of the raw ``faults:`` section: the sites, countries, links and accelerator
types it names exist; its distributions are consistent."""

from __future__ import annotations

from typing import Any

from twin.config.errors import ConfigIssue
from twin.config.raw_checks import check_distribution, dicts, known


def link_ids(data: dict[str, Any]) -> list[str]:
    """The configured links as ``A~B``, in config order."""
    return [f"{link.get('a')}~{link.get('b')}" for _, link in dicts(data.get("links"))]


def canonical_link(name: str, ids: list[str]) -> str | None:
    """``name`` (``A~B`` or ``B~A``) as the configured link's id, or None if there is none."""
    if name in ids:
        return name
    a, _, b = name.partition("~")
    flipped = f"{b}~{a}"
    return flipped if flipped in ids else None


def check_faults(
    data: dict[str, Any], sites: list[tuple[int, dict[str, Any]]], catalogue: list[str]
) -> list[ConfigIssue]:
    """Every reference in ``faults`` points at something that exists."""
    faults = data.get("faults")
    if not isinstance(faults, dict):
        return []
    site_ids = [str(site.get("id")) for _, site in sites]
    countries = sorted({str(site.get("country")) for _, site in sites if site.get("country")})
    issues: list[ConfigIssue] = []
    accelerators = faults.get("accelerators")
    if isinstance(accelerators, dict):
        by_type = accelerators.get("by_type")
        for kind in by_type if isinstance(by_type, dict) else ():
            if kind not in catalogue:
                issues.append(
                    ConfigIssue(
                        f"faults.accelerators.by_type.{kind}",
                        f"unknown accelerator; {known(catalogue)}",
                    )
                )
        if isinstance(accelerators.get("repair"), dict):
            issues += check_distribution("faults.accelerators.repair", accelerators["repair"])
    outages = faults.get("sites")
    if isinstance(outages, dict):
        issues += _check_outages(outages, site_ids, countries)
    cuts = faults.get("links")
    if isinstance(cuts, dict):
        issues += _check_cuts(cuts, link_ids(data))
    return issues


def _check_target(
    path: str, entry: dict[str, Any], site_ids: list[str], countries: list[str], many: bool
) -> list[ConfigIssue]:
    """An outage names its site(s) or its country, not both; each exists."""
    site_key = "sites" if many else "site"
    site, country = entry.get(site_key), entry.get("country")
    issues = []
    if not many and (site is None) == (country is None):
        issues.append(ConfigIssue(path, "give the site or the country that goes down (one)"))
    if many and site is not None and country is not None:
        issues.append(ConfigIssue(path, "give sites or country, not both"))
    named = site if isinstance(site, list) else [site] if site is not None else []
    for k, name in enumerate(named):
        where = f"{path}.{site_key}[{k}]" if many else f"{path}.site"
        if str(name) not in site_ids:
            issues.append(ConfigIssue(where, f"unknown site {name!r}; {known(site_ids)}"))
    if country is not None and str(country) not in countries:
        issues.append(
            ConfigIssue(f"{path}.country", f"no site in country {country!r}; {known(countries)}")
        )
    return issues


def _check_outages(
    outages: dict[str, Any], site_ids: list[str], countries: list[str]
) -> list[ConfigIssue]:
    issues = []
    for i, entry in dicts(outages.get("scheduled")):
        issues += _check_target(f"faults.sites.scheduled[{i}]", entry, site_ids, countries, False)
    for i, entry in dicts(outages.get("random")):
        path = f"faults.sites.random[{i}]"
        issues += _check_target(path, entry, site_ids, countries, True)
        if isinstance(entry.get("mttr"), dict):
            issues += check_distribution(f"{path}.mttr", entry["mttr"])
    return issues


def _check_cuts(cuts: dict[str, Any], ids: list[str]) -> list[ConfigIssue]:
    issues = []
    if not ids and (cuts.get("scheduled") or cuts.get("random")):
        issues.append(ConfigIssue("faults.links", "link cuts need a network: define links"))
        return issues
    named = [
        (f"faults.links.scheduled[{i}].link", e.get("link"))
        for i, e in dicts(cuts.get("scheduled"))
    ]
    random = cuts.get("random")
    if isinstance(random, dict):
        chosen = random.get("links")
        for k, name in enumerate(chosen if isinstance(chosen, list) else []):
            named.append((f"faults.links.random.links[{k}]", name))
        if isinstance(random.get("repair"), dict):
            issues += check_distribution("faults.links.random.repair", random["repair"])
    for path, name in named:
        if isinstance(name, str) and canonical_link(name, ids) is None:
            issues.append(ConfigIssue(path, f"unknown link {name!r} (A~B); {known(ids)}"))
    return issues
