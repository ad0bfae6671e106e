"""CI must fail, not skip, when a program or package the tests need is missing."""

from __future__ import annotations

import pytest

from tests.conftest import require_module, require_tool


def test_a_missing_tool_skips_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RTT_REQUIRE_TOOLS", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no-such-tool-rtt is not installed"):
        require_tool("no-such-tool-rtt", "apt-get install it")
    with pytest.raises(pytest.skip.Exception, match="no_such_module_rtt"):
        require_module("no_such_module_rtt", "pip install it")


def test_a_missing_tool_fails_when_ci_requires_tools(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RTT_REQUIRE_TOOLS", "1")
    with pytest.raises(pytest.fail.Exception, match="RTT_REQUIRE_TOOLS=1"):
        require_tool("no-such-tool-rtt", "apt-get install it")
    with pytest.raises(pytest.fail.Exception, match="scripts/setup installs it"):
        require_module("no_such_module_rtt", "pip install it")


def test_a_present_tool_is_returned() -> None:
    assert require_tool("sh", "always there").endswith("/sh")
    assert require_module("json", "stdlib").dumps([]) == "[]"
