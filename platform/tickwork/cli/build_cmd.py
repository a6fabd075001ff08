"""``tickwork build "DESCRIPTION"``: the AI builder on the command line.

Without ``--apply`` nothing is written anywhere: the proposal is printed (as JSON with
``--json``). With ``--apply`` an ``ok`` proposal becomes a new version of the account's
custom app, whose schedule status starts off; any other status exits 2 without writing.
"""

from __future__ import annotations

import json
from typing import Any

import click

from tickwork.errors import BadInput


@click.command("build")
@click.argument("description")
@click.option("--account", "account_ref", help="The account (id or slug) whose custom app gets the job.")
@click.option("--app", "app_slug", help="Add the job to this custom app (created when missing).")
@click.option("--json", "as_json", is_flag=True, help="Print the proposal as JSON.")
@click.option("--apply", "apply_", is_flag=True, help="Apply an ok proposal (needs --account).")
def build(
    description: str, account_ref: str | None, app_slug: str | None, as_json: bool, apply_: bool
) -> None:
    """Turn DESCRIPTION (English) into a schedule, job code and a cost, or questions back."""
    from tickwork.builder import propose

    if apply_ and account_ref is None:
        raise BadInput("--apply needs --account: the account whose custom app gets the job")
    if app_slug is not None and not apply_:
        raise BadInput("--app only matters with --apply")
    proposal = propose(description)
    applied_lines: list[str] = []
    applied_json: dict[str, Any] | None = None
    if apply_:
        if not proposal.ok:
            _print(proposal.to_json(), as_json)
            raise BadInput(f"the proposal is {proposal.status}, so nothing was applied")
        from tickwork.accounts import find_account
        from tickwork.builder import apply_proposal
        from tickwork.db import session_scope

        with session_scope() as session:
            account = find_account(session, account_ref or "")
            applied = apply_proposal(session, proposal, account, app_slug, created_by="tickwork build")
            applied_json = applied.to_json()
            account_slug = account.slug
        slug, status = applied_json["app"], applied_json["schedule_status"]
        applied_lines = [
            f"applied: {slug} version {applied_json['version']} "
            f"({'new app' if applied_json['created'] else 'updated'}); schedule status {status}",
        ]
        if status == "off":
            applied_lines.append(f"switch it on with: tickwork apps resume {slug} --account {account_slug}")
    payload = proposal.to_json()
    if applied_json is not None:
        payload["applied"] = applied_json
    _print(payload, as_json)
    if not as_json:
        for line in applied_lines:
            click.echo(line)


def _print(payload: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(payload, indent=2))
        return
    click.echo(f"status: {payload['status']}")
    if payload["reason"]:
        click.echo(f"reason: {payload['reason']}")
    for question in payload["questions"]:
        click.echo(f"question: {question}")
    if payload["schedules"]:
        click.echo(f"schedules: {' | '.join(payload['schedules'])}")
        click.echo(f"when: {payload['description']}")
        click.echo(f"next runs: {', '.join(payload['next_runs'])}")
        click.echo(
            f"cost: {payload['runs_per_day']} runs/day x {payload['credits_per_run']} credits = "
            f"{payload['credits_per_day']} credits/day"
        )
    for assumption in payload["assumptions"]:
        click.echo(f"assumption: {assumption}")
    job = payload["job"]
    if isinstance(job, dict):
        click.echo(f"job: {job['name']}({', '.join(f'{k}={v!r}' for k, v in job['params'].items())})")
        click.echo("")
        click.echo(job["code"].rstrip())
