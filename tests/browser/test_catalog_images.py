"""错误示例图片 in a real browser: the administrator uploads an example image on the matter's edit page (real
CSRF, multipart), and a phone shows it on the portal's 服务指南 beside the 错误示例, drawn and never wider
than the screen."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from tests.support.browser import PHONE_VIEWPORT, LiveServer, Step, visit
from tests.support.images import png

pytestmark = pytest.mark.browser

WIDE_PNG = png(width=1200, height=300)  # three times as wide as the phone


def test_the_guide_shows_the_example_image_the_administrator_uploaded(
        page_for: Callable[[str], Page], phone_page: Page, live_server: LiveServer, step: Step) -> None:
    """Uploaded from the edit page, the image is on the matter's page and, signed out on a 390 px phone, beside
    its material's 错误示例 in the guide: loaded at its full size, shown within the screen, no sideways scroll."""
    name = live_server.app.extensions["relief_engine"].catalog.get("linshi")["materials"][0]["name"]
    admin = page_for("admin1")
    with step(admin, "the administrator uploads the example image"):
        visit(admin, "/catalog/linshi/edit")
        admin.set_input_files("#materials-0-image",
                              files=[{"name": "错例.png", "mimeType": "image/png", "buffer": WIDE_PNG}])
        admin.locator("#f-reason").fill("加错误示例图片")
        with admin.expect_navigation():
            admin.locator("#save-matter").click()
        expect(admin.locator("#materials").get_by_role("img", name=f"错误示例图片：{name}")).to_be_visible()
    phone = phone_page
    with step(phone, "the guide on a phone shows it beside the wrong example"):
        visit(phone, "/portal/guide/linshi")
        image = phone.locator("#material-1 dd.wrong").get_by_role("img", name=f"错误示例图片：{name}")
        image.scroll_into_view_if_needed()
        expect(image).to_be_visible()
        phone.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=image.element_handle())
        assert image.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [1200, 300]
        box = image.bounding_box()
        assert box is not None and 0 < box["x"] and box["x"] + box["width"] <= PHONE_VIEWPORT["width"], box
        scroll_width = phone.evaluate("() => document.documentElement.scrollWidth")
        assert scroll_width <= PHONE_VIEWPORT["width"], f"scrollWidth {scroll_width}"
