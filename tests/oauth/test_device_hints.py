"""What is said before and after a device sign-in fails for a provider's own reasons (issue 12, point 5)."""

from __future__ import annotations

from desktop.models.grants import DEVICE_GRANT, sign_in_grants
from desktop.oauth.errors import STAGE_DEVICE, STAGE_DEVICE_AUTHORIZATION, hint_for
from desktop.oauth.grant_drivers.device import device_hint


def test_google_gmail_scope_is_named_before_a_device_sign_in(ctx):
    cfg = ctx.templates.require("Google Mail").new_configuration("Gmail")  # from the template's data
    assert device_hint(cfg, ctx.templates) == (
        "Google does not allow Gmail scopes (https://mail.google.com/) in the device code flow: the sign-in would end "
        "with invalid_scope. Use Request new token (a browser sign-in) for Gmail.")
    assert device_hint(ctx.templates.require("Microsoft Exchange Online (device code)").new_configuration("M"),
                       ctx.templates) == ""
    cfg.scope = "openid email"  # a Google configuration without Gmail scopes: nothing to say
    assert device_hint(cfg, ctx.templates) == ""


def test_the_microsoft_device_code_template_offers_the_device_grant(ctx):
    cfg = ctx.templates.require("Microsoft Exchange Online (device code)").new_configuration("M365 over SSH")
    assert DEVICE_GRANT in sign_in_grants(cfg)
    assert DEVICE_GRANT not in sign_in_grants(ctx.templates.require("Microsoft Exchange Online").new_configuration("M"))


def test_conditional_access_blocking_the_device_flow_is_explained():
    description = ("AADSTS53003: Access has been blocked by Conditional Access policies. The access policy does not "
                   "allow token issuance.")
    for stage in (STAGE_DEVICE, STAGE_DEVICE_AUTHORIZATION):
        hint = hint_for("invalid_grant", "53003", description, stage=stage)
        assert hint.startswith("The tenant's Conditional Access blocks this sign-in with a device code")
        assert "Sign in with a browser instead (Request new token)" in hint
