"""An OPML feed list and a config that reads it, for the OPML tests."""

from __future__ import annotations

from pathlib import Path

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>Blogs</title></head><body>
  <outline text="Councils">
    <outline type="rss" text="Council A &amp; friends" xmlUrl="https://a.example.org/feed"/>
    <outline type="rss" text="Council B" xmlUrl="https://b.example.org/rss.xml"/>
  </outline>
  <outline type="rss" text="Listed twice" xmlUrl="https://example.org/feed"/>
  <outline type="rss" text="Not http" xmlUrl="javascript:alert(1)"/>
</body></opml>
"""


def opml_config(tmp_path: Path, opml: str | bytes | None) -> Path:
    if opml is not None:
        target = tmp_path / "lists" / "feeds.opml"
        target.parent.mkdir(exist_ok=True)
        if isinstance(opml, bytes):
            target.write_bytes(opml)
        else:
            target.write_text(opml, encoding="utf-8")
    path = tmp_path / "config.toml"
    path.write_text(
        f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite"}"\n'
        '[polling]\nopml = "lists/feeds.opml"\n'
        '\n[[feeds]]\nurl = "https://example.org/feed"\nname = "Blog <one> & \\"two\\""\n',
        encoding="utf-8",
    )
    return path
