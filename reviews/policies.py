"""Which policy applies to a request: the model's for that stage, else the team's, else the
built-in default. One function, so pages, API, merge and the gate agree."""

from dataclasses import dataclass, field

from accounts.models import Role

from .models import Policy, TargetStage

SOURCE_MODEL, SOURCE_TEAM, SOURCE_DEFAULT = "model", "team", "default"


@dataclass(frozen=True)
class EffectivePolicy:
    to_stage: str
    required_approvals: int = 1
    required_roles: tuple[str, ...] = ()
    author_may_approve: bool = False
    auto_merge: bool = False
    checks: tuple = field(default_factory=tuple)
    aliases: tuple[str, ...] = ()
    source: str = SOURCE_DEFAULT

    def eligible_roles(self) -> set[str]:
        """Roles whose approval counts: those the policy names, else every role but viewer."""
        if self.required_roles:
            return set(self.required_roles)
        return {r for r in Role.values if r != Role.VIEWER}

    def as_dict(self) -> dict:
        return {
            "required_approvals": self.required_approvals,
            "required_roles": list(self.required_roles),
            "author_may_approve": self.author_may_approve,
            "auto_merge": self.auto_merge,
            "checks": list(self.checks),
            "aliases": list(self.aliases),
        }

    def request_rules(self) -> dict:
        """What a request must meet under this policy (its aliases play no part in that)."""
        rules = self.as_dict()
        del rules["aliases"]
        return rules

    def stands_for_stage(self, alias: str) -> bool:
        """Whether `alias` is one of this stage's; alias names compare without case, so
        `@Champion` does not slip past a gate on `@champion`."""
        return alias.lower() in {name.lower() for name in self.aliases}


# Until a team's owners change them: production needs a DevOps approval, staging any
# non-viewer's; never the author's; no automatic merge.
DEFAULTS = {
    TargetStage.PRODUCTION: EffectivePolicy(TargetStage.PRODUCTION, 1, (Role.DEVOPS,)),
    TargetStage.STAGING: EffectivePolicy(TargetStage.STAGING, 1, ()),
}


def from_row(row: Policy, source: str) -> EffectivePolicy:
    return EffectivePolicy(
        to_stage=row.to_stage,
        required_approvals=row.required_approvals,
        required_roles=tuple(row.required_roles),
        author_may_approve=row.author_may_approve,
        auto_merge=row.auto_merge,
        checks=tuple(row.checks),
        aliases=tuple(row.aliases),
        source=source,
    )


def choose(rows, *, model_id: int, to_stage: str) -> EffectivePolicy:
    """The most specific of `rows` (the team's policies, already fetched) for this model."""
    team_row = None
    for row in rows:
        if row.to_stage != to_stage:
            continue
        if row.model_id == model_id:
            return from_row(row, SOURCE_MODEL)
        if row.model_id is None:
            team_row = row
    return from_row(team_row, SOURCE_TEAM) if team_row else DEFAULTS[TargetStage(to_stage)]


def policy_for(*, team_id: int, model_id: int, to_stage: str) -> EffectivePolicy:
    rows = Policy.objects.filter(team_id=team_id, to_stage=to_stage).filter(
        model_id__in=[model_id]
    ) | Policy.objects.filter(team_id=team_id, to_stage=to_stage, model__isnull=True)
    return choose(list(rows), model_id=model_id, to_stage=to_stage)


def stages_of_alias(*, team_id: int, model_id: int, alias: str) -> list[str]:
    """The stages whose policy for this model says `alias` stands for them (usually none)."""
    rows = list(
        Policy.objects.filter(team_id=team_id, model__isnull=True)
        | Policy.objects.filter(team_id=team_id, model_id=model_id)
    )
    return [
        stage
        for stage in TargetStage.values
        if choose(rows, model_id=model_id, to_stage=stage).stands_for_stage(alias)
    ]


def role_label(role: str) -> str:
    label = Role(role).label if role in Role.values else role
    return label if label == "DevOps" else label.lower()
