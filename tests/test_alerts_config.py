"""alerts.toml: optional, validated by check-config, each mistake named by file, key and reason."""

from __future__ import annotations

from hub.cli import main
from hub.site import example_site_dir, load_site

GOOD = """
language = "zh_CN"
console_url = "http://hub.test:8080/"
[channels.leads]
type = "dingtalk"
url = "https://oapi.dingtalk.com/robot/send?access_token=x"
secret = "SECabc"
[[routes]]
channel = "leads"
rules = ["AWAY-*"]
zones = ["A"]
teams = ["T1"]
hours = "22:00-06:00"
min_severity = "warning"
"""


def _check(path, capsys) -> str:
    assert main(["check-config", str(path)]) == 1
    return capsys.readouterr().err


def test_absent_means_no_alerts_and_the_example_is_valid(site_dir):
    assert load_site(site_dir).alerts is None
    example = load_site(example_site_dir()).alerts
    assert example is not None and example.channels and not example.live_channels()  # all disabled
    assert all("REPLACE" in c.url or "127.0.0.1" in c.url for c in example.channels.values())


def test_a_good_file_loads(site_dir):
    (site_dir / "alerts.toml").write_text(GOOD)
    cfg = load_site(site_dir).alerts
    assert cfg.console_url == "http://hub.test:8080"
    assert cfg.channels["leads"].limit == 20 and cfg.routes[0].hours == "22:00-06:00"


def test_bad_values_name_file_key_and_reason(site_dir, capsys):
    path = site_dir / "alerts.toml"
    path.write_text(GOOD.replace('type = "dingtalk"', 'type = "slack"').replace('min_severity = "warning"', 'min_severity = "urgent"')
                    .replace('hours = "22:00-06:00"', 'hours = "25:00-06:00"').replace('language = "zh_CN"', 'language = "fr"'))
    err = _check(site_dir, capsys)
    assert f"{path}: channels.leads.type: Input should be 'wecom', 'dingtalk', 'feishu' or 'webhook'" in err
    assert f"{path}: routes.0.min_severity: Input should be 'info', 'warning' or 'critical'" in err
    assert f"{path}: routes.0.hours: String should match pattern" in err
    assert f"{path}: language: Input should be 'zh_CN' or 'en'" in err


def test_secrets_urls_and_unknown_keys(site_dir, capsys):
    path = site_dir / "alerts.toml"
    path.write_text(GOOD.replace('secret = "SECabc"\n', "").replace("https://oapi", "ftp://oapi")
                    + '[channels.w]\ntype = "wecom"\nurl = "https://qyapi.weixin.qq.com/x?key=k"\nsecert = "x"\n')
    err = _check(site_dir, capsys)
    assert f"{path}: channels.leads.url: Value error, 'ftp://oapi.dingtalk.com/robot/send?access_token=x' is not an http(s) URL" in err
    assert f"{path}: channels.w.secert: Extra inputs are not permitted" in err
    path.write_text(GOOD.replace('secret = "SECabc"\n', ""))
    err = _check(site_dir, capsys)
    assert f"{path}: channels.leads: Value error, a dingtalk channel needs its signing secret" in err


def test_references_to_the_site_are_checked(site_dir, capsys):
    path = site_dir / "alerts.toml"
    path.write_text(GOOD.replace('channel = "leads"', 'channel = "lead"').replace('"AWAY-*"', '"AWAY-*", "NOPE-*"')
                    .replace('zones = ["A"]', 'zones = ["Q"]').replace('teams = ["T1"]', 'teams = ["T9"]')
                    .replace('console_url = "http://hub.test:8080/"\n', "") + '[severity]\n"ROLL-LATE" = "info"\n')
    err = _check(site_dir, capsys)
    assert f"{path}: routes.0.channel: no channel 'lead' in [channels]" in err
    assert f"{path}: routes.0.rules.1: 'NOPE-*' matches no rule id" in err
    assert f"{path}: routes.0.zones.0: unknown zone 'Q'" in err
    assert f"{path}: routes.0.teams.0: no agent is in team 'T9'" in err
    assert f"{path}: severity.ROLL-LATE: unknown rule id 'ROLL-LATE'" in err
    assert f"{path}: console_url: required when a channel is enabled" in err
    path.write_text("language = \n")
    assert f"{path}: -: not valid TOML" in _check(site_dir, capsys)
