"""Analytics endpoints: overview, conversations, agents, bot reports and the CSV export."""
import flask

from utalk import http
from utalk.models.analytics import AnalyticsQuery
from utalk.services import analytics_reports as reports


def _report(name: str, build):
    """A report endpoint: the query validated, `build(principal, query)` answers (who may read
    what is the service's rule)."""
    return http.endpoint(name, role="agent", query=AnalyticsQuery)(lambda call: build(call.principal, call.query))


overview = _report("analytics_overview", reports.overview)
conversations = _report("analytics_conversations", reports.conversations)
agents = _report("analytics_agents", reports.agents)
bot = _report("analytics_bot", reports.bot)


@http.endpoint("analytics_export", role="agent", query=AnalyticsQuery)
def export_csv(call: http.Call):
    rows = reports.export_rows(call.principal, call.query)
    name = f"utalk-analytics-{call.query.from_ or 'last'}-{call.query.to or 'today'}.csv"
    return flask.Response(flask.stream_with_context(rows), mimetype="text/csv",
                          headers={"Content-Disposition": f'attachment; filename="{name}"'})
