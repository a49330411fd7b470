"""Analytics endpoints: overview, conversations, agents, bot reports and the CSV export."""
import flask

from utalk import http
from utalk.models.analytics import AnalyticsQuery
from utalk.services import analytics_reports as reports


@http.endpoint("analytics_overview", role="agent", query=AnalyticsQuery)
def overview(call: http.Call):
    return reports.overview(call.principal, call.query)


@http.endpoint("analytics_conversations", role="agent", query=AnalyticsQuery)
def conversations(call: http.Call):
    return reports.conversations(call.principal, call.query)


@http.endpoint("analytics_agents", role="agent", query=AnalyticsQuery)
def agents(call: http.Call):
    return reports.agents(call.principal, call.query)


@http.endpoint("analytics_bot", role="agent", query=AnalyticsQuery)
def bot(call: http.Call):
    return reports.bot(call.principal, call.query)


@http.endpoint("analytics_export", role="agent", query=AnalyticsQuery)
def export_csv(call: http.Call):
    rows = reports.export_rows(call.principal, call.query)
    name = f"utalk-analytics-{call.query.from_ or 'last'}-{call.query.to or 'today'}.csv"
    return flask.Response(flask.stream_with_context(rows), mimetype="text/csv",
                          headers={"Content-Disposition": f'attachment; filename="{name}"'})
