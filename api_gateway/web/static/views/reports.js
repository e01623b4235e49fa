// Reports: the portfolio as of a closed business date and the money over a date range, with
// charts (Chart.js, vendored) and a CSV download for every table. Agents see their own
// portfolio: reporting_service scopes every report from the caller's token, whatever the
// query says. Admins see everything and may narrow it to one agent. A portfolio in several
// currencies is shown one currency at a time: amounts of different currencies never add up.

import { ApiError } from "../api.js";
import {
  actionButton,
  card,
  date,
  form,
  h,
  loader,
  minorToDecimal,
  money,
  pagedTable,
  percent,
  spinner,
  table,
} from "../ui.js";

const CHART_SRC = "/static/vendor/chartjs/chart.umd.min.js";
const COLORS = { brand: "#0f5e9c", green: "#1f7a3f", amber: "#c27c00", red: "#b42318", grey: "#8a94a3" };
const AGING_COLORS = [COLORS.green, "#e0b000", COLORS.amber, "#d9541e", COLORS.red, "#7a1a12"];

// ---- Chart.js: a classic UMD script, loaded once when a chart is first drawn ----

let chartLibrary = null;

function loadChartJs() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartLibrary) {
    chartLibrary = new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = CHART_SRC;
      script.addEventListener("load", () => resolve(window.Chart));
      script.addEventListener("error", () => {
        chartLibrary = null;
        script.remove();
        reject(new Error("chart library not loaded"));
      });
      document.head.append(script);
    });
  }
  return chartLibrary;
}

/** A canvas in a sized box; Chart.js draws into it once loaded (its failure leaves a note). */
function chart(charts, config, { testid, tall = 0, caption } = {}) {
  const canvas = h("canvas", { role: "img", "aria-label": caption || "Chart", testid });
  const box = h("div", { class: "chart" }, canvas);
  // A bar per agent needs room: the box grows with the rows (CSSOM, which CSP allows).
  if (tall) box.style.height = `${Math.max(260, tall * 34 + 80)}px`;
  loadChartJs()
    .then((Chart) => {
      charts.add(new Chart(canvas, config));
    })
    .catch(() => {
      box.replaceChildren(h("p", { class: "muted small" }, "The chart could not be drawn; the table has the figures."));
    });
  return box;
}

function major(value) {
  // For the chart's scale only: the tables and tooltips show the exact amounts.
  return value ? Number(minorToDecimal(value.amount_minor, value.currency)) : 0;
}

function moneyTooltip(moneyOf) {
  return { callbacks: { label: (item) => `${item.dataset.label}: ${money(moneyOf(item))}` } };
}

function baseOptions(extra = {}) {
  return {
    responsive: true,
    maintainAspectRatio: false,
    animation: false,
    interaction: { mode: "index", intersect: false },
    plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
    ...extra,
  };
}

// ---- dates (YYYY-MM-DD, computed in UTC so no time zone shifts a day) ----

function addDays(iso, days) {
  const day = new Date(`${iso}T00:00:00Z`);
  day.setUTCDate(day.getUTCDate() + days);
  return day.toISOString().slice(0, 10);
}

/** The first day of the month `back` months before iso's month. */
function monthStart(iso, back = 0) {
  const day = new Date(`${iso.slice(0, 7)}-01T00:00:00Z`);
  day.setUTCMonth(day.getUTCMonth() - back);
  return day.toISOString().slice(0, 10);
}

function yesterday() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return addDays(`${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`, -1);
}

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;

/** The last closed business date, or null when none is; yesterday when /eod cannot say. */
async function lastClosedDate(api) {
  try {
    const status = await api.get("/eod");
    return { date: status.last_closed_date || null, known: true };
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    return { date: yesterday(), known: false };
  }
}

// ---- small pieces ----

function csvButton(api, path, query, name, testid, text = "Download CSV") {
  return actionButton(
    text,
    () => api.download(path, { ...query, format: "csv" }, `${name}.csv`),
    { testid: `csv-${testid}` },
  );
}

function sectionCard(title, testid, ...children) {
  return h("div", { class: "card report", testid }, h("h2", {}, title), ...children);
}

function tile(name, value, testid, sub) {
  return h(
    "div",
    { class: "stat", testid: `stat-${testid}` },
    h("div", { class: "value" }, value),
    h("div", { class: "name" }, name),
    sub ? h("div", { class: "muted small" }, sub) : null,
  );
}

function count(n) {
  return new Intl.NumberFormat().format(n ?? 0);
}

function loans(n) {
  return `${count(n)} ${n === 1 ? "loan" : "loans"}`;
}

/** "2026-10-07" -> "Oct 7": short enough for a chart's axis on a phone. */
function shortDate(iso) {
  const [year, month, day] = iso.split("-").map(Number);
  return new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", timeZone: "UTC" }).format(
    new Date(Date.UTC(year, month - 1, day)),
  );
}

/** An amount in a tile: on a phone it wraps between the currency and the figure (Intl puts
 * a no-break space there), not inside the figure. */
function amount(value) {
  return h("span", { class: "amount" }, money(value).replace(/\u00a0/g, " "));
}

function parOf(summary, days) {
  return (summary.par || []).find((p) => p.threshold_days === days);
}

/** Adds a totals row (bold) under a table built by ui.table. */
function withTotals(tableNode, columns, totals) {
  const body = tableNode.querySelector && tableNode.querySelector("tbody");
  if (!body) return tableNode;
  for (const total of totals) {
    body.append(
      h(
        "tr",
        { class: "total" },
        columns.map((c, i) =>
          h("td", { class: c.num ? "num" : null, "data-label": c.label }, i === 0 ? "Total" : c.total ? c.total(total) : ""),
        ),
      ),
    );
  }
  return tableNode;
}

// ---- the sections ----

function summaryTiles(summary, asOf) {
  if (!summary) {
    return h("p", { class: "empty muted", testid: "summary-empty" }, `No active loans as of ${date(asOf)}.`);
  }
  const par = (days) => {
    const figure = parOf(summary, days);
    return tile(`PAR${days}`, percent(figure?.percent), `par${days}`, figure ? `${money(figure.at_risk_principal)} · ${loans(figure.loan_count)}` : null);
  };
  return h(
    "div",
    { class: "stats", testid: "summary" },
    tile("Active loans", count(summary.active_loans), "active-loans"),
    tile("Borrowers", count(summary.active_borrowers), "borrowers"),
    tile("Outstanding principal", amount(summary.outstanding_principal), "outstanding"),
    tile("Interest receivable", amount(summary.outstanding_interest), "interest"),
    tile("Disbursed to date", amount(summary.disbursed_amount), "disbursed"),
    tile("Collected to date", amount(summary.collected_amount), "collected"),
    tile("Arrears", amount(summary.arrears_amount), "arrears", `${loans(summary.loans_in_arrears)} in arrears`),
    par(1),
    par(30),
    par(90),
  );
}

function trendSection(ctx, charts, trend, scope) {
  const points = trend.points.filter((p) => p.currency === scope.currency);
  const query = { from: scope.from, to: scope.to, currency: scope.currency, agent_id: scope.agent_id };
  const columns = [
    { label: "Date", value: (p) => date(p.business_date) },
    { label: "Active loans", num: true, value: (p) => count(p.active_loans) },
    { label: "Outstanding principal", num: true, value: (p) => money(p.outstanding_principal) },
    { label: "PAR30", num: true, value: (p) => percent(p.par30_percent) },
  ];
  const labels = points.map((p) => shortDate(p.business_date));
  // A short range draws its points (one closed date alone would otherwise draw nothing).
  const pointRadius = points.length > 20 ? 0 : 3;
  const title = (items) => (items.length ? date(points[items[0].dataIndex].business_date) : "");
  const body = points.length
    ? h(
        "div",
        { class: "grid two" },
        h(
          "div",
          {},
          h("h3", {}, "PAR30"),
          chart(
            charts,
            {
              type: "line",
              data: { labels, datasets: [{ label: "PAR30 %", data: points.map((p) => Number(p.par30_percent)), borderColor: COLORS.red, backgroundColor: COLORS.red, pointRadius, tension: 0.2 }] },
              options: baseOptions({
                scales: { y: { beginAtZero: true, ticks: { callback: (v) => `${v}%` } }, x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } } },
                plugins: { legend: { display: false }, tooltip: { callbacks: { title, label: (item) => `PAR30: ${percent(points[item.dataIndex].par30_percent)}` } } },
              }),
            },
            { testid: "chart-par30", caption: "PAR30 by closed date" },
          ),
        ),
        h(
          "div",
          {},
          h("h3", {}, "Outstanding principal"),
          chart(
            charts,
            {
              type: "line",
              data: { labels, datasets: [{ label: "Outstanding principal", data: points.map((p) => major(p.outstanding_principal)), borderColor: COLORS.brand, backgroundColor: "rgba(15, 94, 156, 0.15)", fill: true, pointRadius, tension: 0.2 }] },
              options: baseOptions({
                scales: { y: { beginAtZero: true }, x: { ticks: { maxTicksLimit: 6, maxRotation: 0 } } },
                plugins: { legend: { display: false }, tooltip: { callbacks: { title, ...moneyTooltip((item) => points[item.dataIndex].outstanding_principal).callbacks } } },
              }),
            },
            { testid: "chart-outstanding", caption: "Outstanding principal by closed date" },
          ),
        ),
      )
    : h("p", { class: "empty muted" }, "No closed date in this range.");
  return sectionCard(
    `Trend ${date(scope.from)} – ${date(scope.to)}`,
    "trend",
    body,
    points.length
      ? h("details", { class: "figures" }, h("summary", {}, "The figures"), table(columns, points, { testid: "trend-table" }))
      : null,
    h("div", { class: "actions" }, csvButton(ctx.api, "/reports/trend", query, "trend", "trend")),
  );
}

function agingSection(ctx, charts, scope) {
  const query = { as_of: scope.as_of, currency: scope.currency, agent_id: scope.agent_id };
  const columns = [
    { label: "Days past due", value: (b) => (b.label === "current" ? "Current" : b.label) },
    { label: "Loans", num: true, value: (b) => count(b.loan_count), total: (t) => count(t.loan_count) },
    { label: "Outstanding principal", num: true, value: (b) => money(b.outstanding_principal), total: (t) => money(t.outstanding_principal) },
    { label: "Arrears", num: true, value: (b) => money(b.arrears_amount), total: (t) => money(t.arrears_amount) },
    { label: "Share", num: true, value: (b) => percent(b.percent), total: (t) => percent(t.percent) },
  ];
  return sectionCard(
    "Aging",
    "aging",
    loader(
      () => ctx.api.get("/reports/aging", query),
      (aging) => {
        const buckets = aging.buckets.filter((b) => b.currency === scope.currency);
        const totals = aging.totals.filter((b) => b.currency === scope.currency);
        if (!buckets.some((b) => b.loan_count)) return h("p", { class: "empty muted" }, "No active loans.");
        return h(
          "div",
          {},
          chart(
            charts,
            {
              type: "bar",
              data: {
                labels: buckets.map((b) => (b.label === "current" ? "Current" : b.label)),
                datasets: [{ label: "Outstanding principal", data: buckets.map((b) => major(b.outstanding_principal)), backgroundColor: AGING_COLORS }],
              },
              options: baseOptions({
                scales: { y: { beginAtZero: true } },
                plugins: { legend: { display: false }, tooltip: moneyTooltip((item) => buckets[item.dataIndex].outstanding_principal) },
              }),
            },
            { testid: "chart-aging", caption: "Outstanding principal by days past due" },
          ),
          withTotals(table(columns, buckets, { testid: "aging-table" }), columns, totals),
        );
      },
    ),
    h("div", { class: "actions" }, csvButton(ctx.api, "/reports/aging", query, `aging-${scope.as_of}`, "aging")),
  );
}

function flowsSection(ctx, charts, scope) {
  const query = { from: scope.from, to: scope.to, by: "month", currency: scope.currency, agent_id: scope.agent_id };
  const columns = [
    { label: "Month", value: (r) => h("span", { class: "nowrap" }, r.period) },
    { label: "Loans disbursed", num: true, value: (r) => count(r.out?.loan_count), total: (t) => count(t.out?.loan_count) },
    { label: "Disbursed", num: true, value: (r) => money(r.out?.principal_amount ?? zero(scope.currency)), total: (t) => money(t.out?.principal_amount ?? zero(scope.currency)) },
    { label: "Payments", num: true, value: (r) => count(r.in?.payment_count), total: (t) => count(t.in?.payment_count) },
    { label: "Collected", num: true, value: (r) => money(r.in?.collected_amount ?? zero(scope.currency)), total: (t) => money(t.in?.collected_amount ?? zero(scope.currency)) },
    { label: "Reversed", num: true, value: (r) => money(r.in?.reversed_amount ?? zero(scope.currency)), total: (t) => money(t.in?.reversed_amount ?? zero(scope.currency)) },
  ];
  return sectionCard(
    "Disbursed and collected by month",
    "flows",
    loader(
      () => Promise.all([ctx.api.get("/reports/disbursements", query), ctx.api.get("/reports/collections", query)]),
      ([out, incoming]) => {
        const months = new Map();
        const at = (period) => {
          if (!months.has(period)) months.set(period, { period });
          return months.get(period);
        };
        for (const row of out.rows) if (row.currency === scope.currency) at(row.period).out = row;
        for (const row of incoming.rows) if (row.currency === scope.currency) at(row.period).in = row;
        const rows = [...months.values()].sort((a, b) => a.period.localeCompare(b.period));
        if (!rows.length) return h("p", { class: "empty muted" }, "Nothing disbursed or collected in this range.");
        const total = {
          out: out.totals.find((t) => t.currency === scope.currency),
          in: incoming.totals.find((t) => t.currency === scope.currency),
        };
        return h(
          "div",
          {},
          chart(
            charts,
            {
              type: "bar",
              data: {
                labels: rows.map((r) => r.period),
                datasets: [
                  { label: "Disbursed", data: rows.map((r) => major(r.out?.principal_amount)), backgroundColor: COLORS.brand },
                  { label: "Collected", data: rows.map((r) => major(r.in?.collected_amount)), backgroundColor: COLORS.green },
                ],
              },
              options: baseOptions({
                scales: { y: { beginAtZero: true } },
                plugins: {
                  legend: { position: "bottom", labels: { boxWidth: 12 } },
                  tooltip: moneyTooltip((item) => {
                    const row = rows[item.dataIndex];
                    return (item.datasetIndex === 0 ? row.out?.principal_amount : row.in?.collected_amount) ?? zero(scope.currency);
                  }),
                },
              }),
            },
            { testid: "chart-flows", caption: "Disbursed and collected by month" },
          ),
          withTotals(table(columns, rows, { testid: "flows-table" }), columns, [total]),
        );
      },
    ),
    h(
      "div",
      { class: "actions" },
      csvButton(ctx.api, "/reports/disbursements", query, `disbursements-${scope.from}_${scope.to}`, "disbursements", "Disbursements CSV"),
      csvButton(ctx.api, "/reports/collections", query, `collections-${scope.from}_${scope.to}`, "collections", "Collections CSV"),
    ),
  );
}

function zero(currency) {
  return { amount_minor: 0, currency };
}

function agentsSection(ctx, charts, scope, names) {
  const admin = ctx.shell.isAdmin();
  const query = { as_of: scope.as_of, from: scope.from, to: scope.to, currency: scope.currency, agent_id: scope.agent_id };
  const columns = [
    { label: "Agent", value: (r) => names(r.agent_id) },
    { label: "Borrowers", num: true, value: (r) => count(r.borrowers) },
    { label: "Active loans", num: true, value: (r) => count(r.active_loans) },
    { label: "Outstanding", num: true, value: (r) => money(r.outstanding_principal) },
    { label: "PAR30", num: true, value: (r) => percent(r.par30_percent) },
    { label: "In arrears", num: true, value: (r) => count(r.loans_in_arrears) },
    { label: "Loans disbursed", num: true, value: (r) => count(r.loans_disbursed) },
    { label: "Disbursed", num: true, value: (r) => money(r.disbursed_amount) },
    { label: "Expected", num: true, value: (r) => money(r.expected_amount) },
    { label: "Collected", num: true, value: (r) => money(r.collected_amount) },
    { label: "Collection rate", num: true, value: (r) => percent(r.collection_rate) },
  ];
  return sectionCard(
    admin ? "Agent performance" : "Your performance",
    "agents",
    h("p", { class: "muted small" }, `Portfolio as of ${date(scope.as_of)}; disbursed and collected ${date(scope.from)} – ${date(scope.to)}.`),
    loader(
      () => ctx.api.all("/reports/agents", "rows", query),
      (all) => {
        const rows = all.filter((r) => r.currency === scope.currency);
        const parts = [];
        if (admin && rows.length > 1) {
          parts.push(
            chart(
              charts,
              {
                type: "bar",
                data: {
                  labels: rows.map((r) => names(r.agent_id)),
                  datasets: [
                    { label: "PAR30 %", data: rows.map((r) => Number(r.par30_percent || 0)), backgroundColor: COLORS.red },
                    { label: "Collection rate %", data: rows.map((r) => (r.collection_rate === "" ? null : Number(r.collection_rate))), backgroundColor: COLORS.green },
                  ],
                },
                options: baseOptions({
                  indexAxis: "y",
                  interaction: { mode: "nearest", axis: "y", intersect: false },
                  scales: { x: { beginAtZero: true, ticks: { callback: (v) => `${v}%` } } },
                  plugins: {
                    legend: { position: "bottom", labels: { boxWidth: 12 } },
                    tooltip: { callbacks: { label: (item) => `${item.dataset.label.replace(" %", "")}: ${percent(item.datasetIndex === 0 ? rows[item.dataIndex].par30_percent : rows[item.dataIndex].collection_rate)}` } },
                  },
                }),
              },
              { testid: "chart-agents", tall: rows.length, caption: "PAR30 and collection rate per agent" },
            ),
          );
        }
        parts.push(table(columns, rows, { testid: "agents-table", empty: "No agent has a portfolio in this currency." }));
        return h("div", {}, parts);
      },
    ),
    h("div", { class: "actions" }, csvButton(ctx.api, "/reports/agents", query, `agents-${scope.as_of}`, "agents")),
  );
}

function efficiencySection(ctx, scope, names) {
  const query = { from: scope.from, to: scope.to, currency: scope.currency, agent_id: scope.agent_id };
  const columns = [
    { label: "Agent", value: (r) => names(r.agent_id) },
    { label: "Due", num: true, value: (r) => money(r.due), total: (t) => money(t.due) },
    { label: "Collected of due", num: true, value: (r) => money(r.collected_due), total: (t) => money(t.collected_due) },
    { label: "Rate", num: true, value: (r) => percent(r.rate), total: (t) => percent(t.rate) },
    { label: "Arrears collected", num: true, value: (r) => money(r.arrears_collected), total: (t) => money(t.arrears_collected) },
    { label: "Prepaid", num: true, value: (r) => money(r.prepaid), total: (t) => money(t.prepaid) },
    { label: "Penalties", num: true, value: (r) => money(r.penalties_collected), total: (t) => money(t.penalties_collected) },
  ];
  return sectionCard(
    "Collection efficiency",
    "efficiency",
    h("p", { class: "muted small" }, `What fell due ${date(scope.from)} – ${date(scope.to)} and what was paid to it; arrears and prepayments apart.`),
    loader(
      () => ctx.api.get("/reports/collection-efficiency", query),
      (report) => {
        const rows = report.rows.filter((r) => r.currency === scope.currency);
        const totals = report.totals.filter((r) => r.currency === scope.currency);
        return withTotals(table(columns, rows, { testid: "efficiency-table", empty: "Nothing fell due in this range." }), columns, rows.length > 1 ? totals : []);
      },
    ),
    h("div", { class: "actions" }, csvButton(ctx.api, "/reports/collection-efficiency", query, `collection-efficiency-${scope.from}_${scope.to}`, "efficiency")),
  );
}

function parLoansSection(ctx, scope, names, summary) {
  const columns = [
    { label: "Loan", value: (l) => h("a", { href: `/loans/${encodeURIComponent(l.loan_id)}`, class: "nowrap" }, l.loan_number || l.loan_id) },
    { label: "Agent", value: (l) => names(l.agent_id) },
    { label: "Days past due", num: true, value: (l) => count(l.days_past_due) },
    { label: "Outstanding principal", num: true, value: (l) => money(l.outstanding_principal) },
  ];
  const base = { as_of: scope.as_of, currency: scope.currency, agent_id: scope.agent_id };
  const region = h("div", {});
  const show = (threshold) => {
    const figure = summary ? parOf(summary, Number(threshold)) : null;
    region.replaceChildren(
      figure ? h("p", { class: "muted small", testid: "par-loans-summary" }, `${loans(figure.loan_count)}, ${money(figure.at_risk_principal)} at risk (PAR${threshold} ${percent(figure.percent)}).`) : "",
      pagedTable(
        columns,
        async (token) => {
          const page = await ctx.api.get("/reports/par/loans", { ...base, threshold, page_size: 25, page_token: token });
          return { items: page.loans, next: page.page.next_page_token, total: page.page.total_size };
        },
        { testid: "par-loans-table", empty: `No loan more than ${threshold} ${threshold === "1" ? "day" : "days"} past due.` },
      ),
    );
  };
  const select = h(
    "select",
    { id: "par-threshold", testid: "par-threshold", onchange: (e) => show(e.target.value) },
    ["1", "30", "90"].map((d) => h("option", { value: d, selected: d === "30" }, `More than ${d} ${d === "1" ? "day" : "days"} (PAR${d})`)),
  );
  show("30");
  return sectionCard(
    "Loans at risk",
    "par-loans",
    h("div", { class: "toolbar" }, h("div", { class: "field" }, h("label", { for: "par-threshold" }, "Days past due"), select)),
    region,
    h(
      "div",
      { class: "actions" },
      csvButton(ctx.api, "/reports/par", base, `par-${scope.as_of}`, "par"),
      h("span", { class: "muted small csv-note" }, "The PAR file lists the figures, then the loans behind each."),
    ),
  );
}

// ---- the page ----

async function agentNames(ctx) {
  const names = new Map();
  const me = ctx.session.user;
  if (me) names.set(me.id, me.full_name);
  // The reports still show when the list cannot be read; agents are then named by their id.
  const agents = ctx.shell.isAdmin() ? [...(await ctx.api.staffById({ role: "AGENT" })).values()] : [];
  for (const agent of agents) names.set(agent.id, agent.full_name);
  return { agents, name: (id) => (id ? names.get(id) || id : "—") };
}

function readScope(query, lastClosed) {
  const pick = (key, fallback) => {
    const value = query.get(key);
    return value && ISO_DATE.test(value) ? value : fallback;
  };
  const asOf = pick("as_of", lastClosed);
  return {
    as_of: asOf,
    from: pick("from", monthStart(asOf, 2)),
    to: pick("to", asOf),
    currency: query.get("currency") || "",
    agent_id: query.get("agent_id") || "",
    // Dates nobody chose follow the reports' own latest closed date (see load()).
    defaulted: { as_of: !query.get("as_of"), from: !query.get("from"), to: !query.get("to") },
  };
}

/** Promise.all that waits for every call and, when several fail on fields, reports all of
 * their fields in one error (so each picker shows its own message). */
async function settled(calls) {
  const results = await Promise.allSettled(calls);
  const failures = results.filter((r) => r.status === "rejected").map((r) => r.reason);
  if (!failures.length) return results.map((r) => r.value);
  const withFields = failures.filter((e) => e instanceof ApiError && e.fields.length);
  if (withFields.length < 2 || withFields.length !== failures.length) throw failures[0];
  const first = withFields[0];
  throw new ApiError(first.status, {
    code: first.code,
    message: withFields.map((e) => e.message).join(" "),
    fields: withFields.flatMap((e) => e.fields),
    request_id: first.requestId,
  });
}

function writeScope(scope) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(scope)) if (value) params.set(key, value);
  history.replaceState({}, "", `/reports?${params}`);
}

// The charts on the page: a new visit (or new filters) destroys the last ones, so Chart.js
// lets go of canvases that are no longer shown.
const drawn = new Set();

function forgetCharts() {
  for (const made of drawn) made.destroy();
  drawn.clear();
}

async function renderReports(ctx) {
  forgetCharts();
  const admin = ctx.shell.isAdmin();
  const [closed, staff] = await Promise.all([lastClosedDate(ctx.api), agentNames(ctx)]);
  if (closed.known && !closed.date) {
    return h(
      "section",
      { class: "page", testid: "reports" },
      h("h1", {}, "Reports"),
      h(
        "div",
        { class: "alert alert-info", testid: "no-closed-date" },
        "No business date has been closed yet. Reports show a day once its end of day has run.",
        admin ? [" ", h("a", { href: "/admin/eod" }, "Run the end of day")] : null,
      ),
    );
  }
  const scope = readScope(ctx.query, closed.date);
  const charts = drawn;
  const results = h("div", { class: "reports", testid: "report-results" });
  const lastNote = h(
    "p",
    { class: "muted small", testid: "last-closed" },
    closed.known ? `Last closed business date: ${date(closed.date)}.` : "",
  );

  const fields = [
    { name: "as_of", label: "As of", type: "date", value: scope.as_of, attrs: { max: closed.known ? closed.date : null } },
    { name: "from", label: "From", type: "date", value: scope.from },
    { name: "to", label: "To", type: "date", value: scope.to, attrs: { max: closed.known ? closed.date : null } },
    { name: "currency", label: "Currency", type: "select", options: [], value: scope.currency },
  ];
  if (admin) {
    fields.push({
      name: "agent_id",
      label: "Agent",
      type: "select",
      value: scope.agent_id,
      errorNames: ["agent"],
      options: [["", "All agents"], ...staff.agents.map((a) => [a.id, a.active === false ? `${a.full_name} (inactive)` : a.full_name])],
    });
  }
  let run = 0;
  const controls = form({
    testid: "report-filters",
    submit: "Show",
    fields,
    onSubmit: (values) => load(values),
  });
  controls.element.classList.add("toolbar");
  const currencyInput = controls.inputs.get("currency");
  const currencyField = currencyInput.closest(".field");
  currencyField.hidden = true;
  // A currency or an agent applies at once; dates wait for Show (one may type several).
  for (const name of ["currency", "agent_id"]) {
    controls.inputs.get(name)?.addEventListener("change", () => controls.element.requestSubmit());
  }

  function settleDates(next, reported) {
    next.as_of = reported;
    if (scope.defaulted.to) next.to = reported;
    if (scope.defaulted.from) next.from = monthStart(reported, 2);
    for (const key of ["as_of", "from", "to"]) controls.inputs.get(key).value = next[key];
    if (closed.known && reported < closed.date) {
      lastNote.textContent = `The end of day closed ${date(closed.date)}; the reports are still catching up and show ${date(reported)}. Press Show in a moment for the newer date.`;
    }
  }

  async function load(values, { settle = false } = {}) {
    const mine = ++run;
    forgetCharts();
    results.replaceChildren(spinner("Loading the reports…"));
    const next = {
      as_of: values.as_of,
      from: values.from,
      to: values.to,
      currency: values.currency,
      agent_id: admin ? values.agent_id : "",
    };
    const scoped = { agent_id: next.agent_id };
    let portfolio;
    let trend;
    try {
      if (settle) {
        // The reports may lag the end of day by a moment (they are built from its events):
        // with no date chosen, ask for the reports' own latest closed date and start there.
        portfolio = await ctx.api.get("/reports/portfolio", scoped);
        const reported = portfolio.summaries[0]?.as_of_date;
        if (reported && reported !== next.as_of) settleDates(next, reported);
        trend = await ctx.api.get("/reports/trend", { from: next.from, to: next.to, ...scoped });
      } else {
        // Portfolio checks as_of, trend the range (`to` not closed, `from` after `to`): a
        // 422 names the parameter and the form shows it at that picker, both at once.
        [portfolio, trend] = await settled([
          ctx.api.get("/reports/portfolio", { as_of: next.as_of, ...scoped }),
          ctx.api.get("/reports/trend", { from: next.from, to: next.to, ...scoped }),
        ]);
      }
    } catch (error) {
      // The form shows why: at the picker the API names, or above the fields.
      if (mine === run) results.replaceChildren();
      throw error;
    }
    if (mine !== run) return;
    const currencies = [...new Set([...portfolio.summaries.map((s) => s.currency), ...trend.points.map((p) => p.currency)])].sort();
    if (!currencies.includes(next.currency)) next.currency = currencies[0] || "";
    currencyInput.replaceChildren(...currencies.map((c) => h("option", { value: c, selected: c === next.currency }, c)));
    currencyField.hidden = currencies.length < 2;
    // A chosen scope goes in the address (to share or reload); the defaults stay out of it,
    // so tomorrow the same link opens on tomorrow's date.
    if (!settle) writeScope(next);
    if (!next.currency) {
      results.replaceChildren(h("p", { class: "empty muted", testid: "summary-empty" }, `No loans in this portfolio as of ${date(next.as_of)}.`));
      return;
    }
    const summary = portfolio.summaries.find((s) => s.currency === next.currency);
    const name = staff.name;
    results.replaceChildren(
      sectionCard(
        `Portfolio as of ${date(next.as_of)}${currencies.length > 1 ? ` · ${next.currency}` : ""}`,
        "portfolio",
        summaryTiles(summary, next.as_of),
        h(
          "div",
          { class: "actions" },
          csvButton(ctx.api, "/reports/portfolio", { as_of: next.as_of, currency: next.currency, ...scoped }, `portfolio-${next.as_of}`, "portfolio"),
        ),
      ),
      trendSection(ctx, charts, trend, next),
      agingSection(ctx, charts, next),
      flowsSection(ctx, charts, next),
      agentsSection(ctx, charts, next, name),
      efficiencySection(ctx, next, name),
      parLoansSection(ctx, next, name, summary),
    );
  }

  // The first load runs without a click; its errors land at the fields like a submit's.
  load(controls.values(), { settle: scope.defaulted.as_of }).catch((error) => controls.showError(error));

  return h(
    "section",
    { class: "page", testid: "reports" },
    h("h1", {}, admin ? "Reports" : "My portfolio"),
    h(
      "div",
      { class: "card filters" },
      controls.element,
      lastNote,
      admin ? null : h("p", { class: "muted small" }, "You see the loans and borrowers assigned to you."),
    ),
    results,
  );
}

export const routes = [{ path: "/reports", title: "Reports", render: renderReports }];
