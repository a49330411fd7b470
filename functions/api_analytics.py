"""Analytics endpoints: overview, conversations, agents, bot reports and the CSV export."""
import flask

from utalk import http
from utalk.models.analytics import AgentsReport, AnalyticsQuery, BotReport, ConversationsReport, Overview
from utalk.services import analytics_reports as reports


# What the service refuses beyond the role: 403 (an agent reading more than their own figures), 404
# (no such agent), 422 (`to` before `from`, or a range over MAX_DAYS).
RAISES = (403, 404, 422)


def _report(name: str, build, response):
    """A report endpoint: the query validated, `build(principal, query)` answers (who may read
    what is the service's rule)."""
    return http.endpoint(name, role="agent", query=AnalyticsQuery, response=response, raises=RAISES)(
        lambda call: build(call.principal, call.query))


overview = _report("analytics_overview", reports.overview, Overview)
conversations = _report("analytics_conversations", reports.conversations, ConversationsReport)
agents = _report("analytics_agents", reports.agents, AgentsReport)
bot = _report("analytics_bot", reports.bot, BotReport)


@http.endpoint("analytics_export", role="agent", query=AnalyticsQuery, response="text/csv", raises=RAISES)
def export_csv(call: http.Call):
    rows = reports.export_rows(call.principal, call.query)
    name = f"utalk-analytics-{call.query.from_ or 'last'}-{call.query.to or 'today'}.csv"
    return flask.Response(flask.stream_with_context(rows), mimetype="text/csv",
                          headers={"Content-Disposition": f'attachment; filename="{name}"'})
