from django.apps import AppConfig


class ReviewsConfig(AppConfig):
    name = "reviews"
    verbose_name = "Reviews"

    def ready(self) -> None:
        from discussions.anchors import register_anchor
        from registry import stages
        from registry.panels import Panel, register_panel

        from . import checks, gate, panels, receivers, selectors

        assert checks.kinds()  # the metric checks are registered on import
        register_anchor(selectors.ANCHOR_KIND, resolve=selectors.request_anchor)
        stages.register_gate(gate.NAME, gate.promotion_gate)
        stages.register_alias_gate(gate.NAME, gate.alias_gate)
        stages.stage_moved.connect(receivers.stage_moved, dispatch_uid="reviews.stale_approvals")
        register_panel(
            "version",
            Panel(
                "reviews",
                "reviews/_version_panel.html",
                panels.version_panel,
                slot="side",  # beside the stage form, where promoting is looked for
                order=10,
            ),
        )
        register_panel(
            "model", Panel("reviews", "reviews/_model_panel.html", panels.model_panel, order=10)
        )
