"""The flags' tag rules are pure functions with doctests (issue #26 item 2): run them here."""
import doctest

from nerstudio.core import flag_rules


def test_the_flag_rules_doctests_pass():
    result = doctest.testmod(flag_rules)
    assert result.attempted >= 6 and result.failed == 0
