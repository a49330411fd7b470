"""The analytics report page in headless Chromium (Debian's `chromium`): an admin signs in, the
page reads the reports through the API and draws them with Chart.js. The screenshot is kept in the
test stack's folder (printed)."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from bot_support import customer_says, outbound, set_settings, ws_doc
from helpers import PASSWORD
from messaging_support import wait_for, workspace

CHROMIUM = shutil.which("chromium")
FAQ = [{"keywords": ["horario"], "answer": "Abrimos de 9 a 18 h.", "intent": "hours"}]


def chromium(*args: str, tz: str = "UTC") -> subprocess.CompletedProcess:
    """Headless Chromium with the browser's own time zone `tz` (the TZ of its process)."""
    return subprocess.run([CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--window-size=1280,1100", "--virtual-time-budget=20000", *args],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "TZ": tz})


def zone_on_another_day() -> str:
    """A workspace zone whose date differs from UTC's right now (ahead late in the UTC day, behind
    early in it), so a page that took the browser's UTC date would ask for the wrong day."""
    return "Pacific/Kiritimati" if datetime.now(timezone.utc).hour >= 10 else "Pacific/Pago_Pago"   # +14 / -11


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_an_admin_sees_the_overview_as_charts(api, stack):
    ws = workspace(api)
    set_settings(ws.id, **{"bot.provider": "offline", "escalation.timeoutHours": 0, "bot.faq": FAQ})
    tz = zone_on_another_day()
    ws_doc(ws.id).update({"settings.timeZone": tz})
    for _ in range(2):
        conv, _ = customer_says(api, ws, "¿Cuál es su horario?")
        wait_for(lambda: [m for m in outbound(ws.id, conv) if m["status"] in ("sent", "delivered", "read")])
        assert ws.api.post(f"/api/v1/conversations/{conv}/status", json={"status": "closed"}).status_code == 200
    # Today only, in a browser whose zone is neither UTC nor the workspace's: the page must ask
    # for the workspace's today, where the two conversations are counted.
    url = f"{api.base}/report/#email={ws.admin['email']}&password={PASSWORD}&days=1"
    dom = chromium("--dump-dom", url, tz="America/Los_Angeles").stdout
    assert 'data-ready="true"' in dom, dom[-2000:]
    today = datetime.now(ZoneInfo(tz)).date().isoformat()
    assert f"{today} → {today} ({tz})" in dom
    tiles = dict(re.findall(r'data-kpi="([^"]+)">[^<]*<b>([^<]*)</b>', dom))
    assert tiles["Conversaciones abiertas"] == "2" and tiles["Cerradas"] == "2" \
        and tiles["Mensajes de clientes"] == "2" and tiles["Respuestas del bot"] == "2"
    assert tiles["Contención del bot"] == "100 %" and tiles["Ejecuciones del bot"] == "2"
    assert dom.count("<canvas") == 4 and "chart.umd.js" in dom
    shot = stack.state_dir / "report-page.png"
    shot.unlink(missing_ok=True)
    chromium(f"--screenshot={shot}", url)
    assert shot.exists() and shot.stat().st_size > 20_000
    print(f"\nreport page screenshot: {shot}")
    # The page's files only; nothing else under /report/ is served.
    assert api.get("/report/../functions/main.py").status_code == 404
    assert api.get("/report/vendor/chart.umd.js").headers["Content-Type"].startswith("text/javascript")
