"""axe-core (vendored in static/vendor) run inside the page Playwright has open: the WCAG rules
of the accessibility checks every page must pass."""

from __future__ import annotations

from pathlib import Path

AXE = Path(__file__).resolve().parents[2] / "static" / "vendor" / "axe-core-4.14.1" / "axe.min.js"
# WCAG 2.1 A and AA, and axe's best practices (landmarks, headings, one main).
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def violations(page) -> list[str]:
    """Each violation on the page as 'rule (impact): selector, selector ...'; [] when clean.

    The page's context must be opened with ``bypass_csp=True`` (fixture ``axe_page``): the
    portal's Content-Security-Policy rightly refuses the script the test injects."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => {
            const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
            return result.violations.map(v => `${v.id} (${v.impact}): ` +
                v.nodes.slice(0, 5).map(n => n.target.join(" ")).join(", "));
        }""",
        TAGS,
    )
    return list(found)
