// Home: for an agent, today's collection sheet (a tap records a repayment) and their portfolio
// at a glance; for an admin, the institution's portfolio and what waits for them.

import { ApiError } from "../api.js";
import {
  actionButton, card, date, errorBox, form, h, loader, money, moneys, page, percent, spinner, stats, today,
} from "../ui.js";
import { repaymentForm } from "./payments.js";

function parOf(summary, days) {
  const metric = (summary.par || []).find((m) => m.threshold_days === days);
  return metric ? percent(metric.percent) : "—";
}

/** The portfolio report's figures per currency; its absence before the first close is normal. */
function glance(ctx) {
  return loader(
    async () => {
      // Before the first close there is no report to ask for (it would answer 409).
      const eod = await ctx.api.get("/eod");
      if (!eod.last_closed_date) return { summaries: [] };
      try {
        return await ctx.api.get("/reports/portfolio");
      } catch (error) {
        if (error instanceof ApiError && [404, 409, 422].includes(error.status)) return { message: error.message, summaries: [] };
        throw error;
      }
    },
    (report) => {
      if (!report.summaries.length) {
        return h("p", { class: "muted", testid: "glance-empty" },
          report.message || "No figures yet: they appear after the first end of day closes.");
      }
      return h(
        "div",
        { testid: "glance" },
        report.summaries.map((s) => [
          h("p", { class: "muted small" }, `As of ${date(s.as_of_date)} (the last closed business date) · ${s.currency}`),
          stats([
            ["Active loans", String(s.active_loans), "glance-active"],
            ["Outstanding", money(s.total_outstanding)],
            ["In arrears", `${s.loans_in_arrears} · ${money(s.arrears_amount)}`, "glance-arrears"],
            ["PAR30", parOf(s, 30), "glance-par30"],
          ]),
        ]),
      );
    },
  );
}

function sheetRow(ctx, row, refresh) {
  const holder = h("div", { class: "sheet-form" });
  const open = () => {
    if (holder.childElementCount) {
      holder.replaceChildren();
      return;
    }
    const owed = row.total_due.amount_minor - row.collected_amount.amount_minor;
    holder.replaceChildren(
      repaymentForm(ctx, {
        loanId: row.loan_id,
        currency: row.total_due.currency,
        suggested: { amount_minor: Math.max(owed, 0), currency: row.total_due.currency },
        testid: `repay-${row.loan_number}`,
        onPosted: (payment) => ctx.navigate(`/payments/${payment.id}`),
      }),
    );
    holder.querySelector("input[name=amount]").focus();
  };
  const paid = row.collected_amount.amount_minor >= row.total_due.amount_minor;
  return h(
    "li",
    { class: ["sheet-row", paid ? "paid" : null], testid: `sheet-${row.loan_number}` },
    h(
      "div",
      { class: "sheet-main" },
      h(
        "div",
        { class: "sheet-who" },
        h("a", { href: `/borrowers/${row.borrower_id}`, class: "sheet-name" }, row.borrower_name),
        h("span", { class: "muted small" }, " · ", h("a", { href: `/loans/${row.loan_id}` }, row.loan_number)),
        row.phone ? h("a", { href: `tel:${row.phone}`, class: "small sheet-phone" }, row.phone) : null,
      ),
      h(
        "div",
        { class: "sheet-money" },
        h("div", { class: "num strong" }, money(row.total_due)),
        row.arrears_amount.amount_minor > 0
          ? h("div", { class: "small bad" }, `${money(row.arrears_amount)} in arrears · ${row.days_past_due} ${row.days_past_due === 1 ? "day" : "days"} late`)
          : h("div", { class: "small muted" }, `due ${date(row.oldest_due_date)}`),
        row.collected_amount.amount_minor > 0 ? h("div", { class: "small ok" }, `collected ${money(row.collected_amount)}`) : null,
      ),
      h("button", { type: "button", class: paid ? "button secondary" : "button primary", testid: `collect-${row.loan_number}`, onclick: open }, paid ? "Collect more" : "Collect"),
    ),
    holder,
  );
}

function collectionSheet(ctx, { day, agent }) {
  const query = { date: day, agent };
  return loader(
    () => ctx.api.get("/collection-sheet", query),
    (sheet, refresh) => h(
      "div",
      { testid: "collection-sheet" },
      sheet.totals.length
        ? stats(sheet.totals.flatMap((t) => [
            [`Expected (${t.currency})`, money(t.expected)],
            [`Collected (${t.currency})`, money(t.collected), "sheet-collected"],
            ["Collection rate", percent(t.collection_rate)],
            ["Loans", String(t.loan_count)],
          ]))
        : null,
      sheet.rows.length
        ? h("ul", { class: "sheet" }, sheet.rows.map((row) => sheetRow(ctx, row, refresh)))
        : h("p", { class: "muted", testid: "sheet-empty" }, `Nothing is due on ${date(sheet.date)}.`),
      h(
        "div",
        { class: "actions" },
        actionButton("Download CSV", () => ctx.api.download("/collection-sheet", { ...query, format: "csv" }, `collection-sheet-${sheet.date}.csv`), { testid: "sheet-csv" }),
        h("a", { class: "button secondary", href: `/payments?from=${sheet.date}&to=${sheet.date}` }, "Payments of the day"),
      ),
    ),
  );
}

function cashSummary(ctx, { day, agent }) {
  return loader(
    () => ctx.api.get("/cash-summary", { date: day, agent }),
    (summary) => h(
      "div",
      { testid: "cash-summary" },
      summary.channels.length
        ? h("ul", { class: "plain" }, summary.channels.map((c) =>
            h("li", {}, `${c.channel ? c.channel.replace("_", " ").toLowerCase() : "other"}: ${money(c.net_amount)} (${c.posted_count} posted${c.reversed_count ? `, ${c.reversed_count} reversed` : ""})`)))
        : h("p", { class: "muted" }, "No money collected yet on this date."),
      h("p", {}, h("strong", {}, "Net: "), moneys(summary.net_totals)),
      summary.pending_count ? h("p", { class: "small warn" }, `${summary.pending_count} payment(s) still pending.`) : null,
    ),
  );
}

function dayPicker(ctx, day, extra = {}) {
  const picker = form({
    testid: "sheet-date",
    submit: "Show",
    fields: [{ name: "date", label: "Date", type: "date", value: day }],
    async onSubmit(values) {
      const query = new URLSearchParams({ ...extra, ...(values.date ? { date: values.date } : {}) });
      ctx.navigate(`/?${query}`, { replace: true });
    },
  });
  picker.element.classList.add("toolbar");
  return picker.element;
}

function renderAgentHome(ctx) {
  const day = ctx.query.get("date") || today();
  return page(
    `Hello, ${ctx.session.user.full_name.split(" ")[0]}`,
    card("My portfolio", glance(ctx)),
    card("Collection sheet", dayPicker(ctx, day), collectionSheet(ctx, { day })),
    card("Cash collected", cashSummary(ctx, { day })),
  );
}

async function count(ctx, path, query) {
  const result = await ctx.api.get(path, { ...query, page_size: 1 });
  return result.page.total_size;
}

function waiting(ctx) {
  return loader(
    async () => {
      const [approvals, kyc, eod] = await Promise.all([
        count(ctx, "/loans", { status: "SUBMITTED" }),
        count(ctx, "/borrowers", { kyc_status: "PENDING" }),
        ctx.api.get("/eod"),
      ]);
      return { approvals, kyc, eod };
    },
    ({ approvals, kyc, eod }) => h(
      "div",
      { class: "stats" },
      h("a", { class: "stat link", href: "/admin/approvals", testid: "waiting-approvals" }, h("div", { class: "value" }, String(approvals)), h("div", { class: "name" }, "Loans to approve")),
      h("a", { class: "stat link", href: "/admin/kyc" }, h("div", { class: "value" }, String(kyc)), h("div", { class: "name" }, "KYC to verify")),
      h("a", { class: "stat link", href: "/admin/eod", testid: "waiting-eod" }, h("div", { class: "value" }, eod.last_closed_date ? date(eod.last_closed_date) : "none"), h("div", { class: "name" }, eod.run ? "End of day running…" : "Last closed date")),
    ),
  );
}

async function agentChoices(ctx) {
  const agents = await ctx.api.all("/staff", "staff", { role: "AGENT", active: true });
  return agents.map((a) => [a.id, a.full_name]);
}

function adminSheet(ctx, day, agent) {
  const region = h("div", {}, spinner());
  agentChoices(ctx).then(
    (choices) => {
      const picker = form({
        testid: "sheet-agent",
        submit: "Show",
        fields: [
          { name: "agent", label: "Agent", type: "select", options: [["", "Choose an agent"], ...choices], value: agent },
          { name: "date", label: "Date", type: "date", value: day },
        ],
        async onSubmit(values) {
          const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v));
          ctx.navigate(`/?${query}`, { replace: true });
        },
      });
      picker.element.classList.add("toolbar");
      region.replaceChildren(
        picker.element,
        agent ? collectionSheet(ctx, { day, agent }) : h("p", { class: "muted" }, "Choose an agent to see their sheet and record repayments for them."),
      );
    },
    (error) => region.replaceChildren(errorBox(error)),
  );
  return region;
}

function renderAdminHome(ctx) {
  const day = ctx.query.get("date") || today();
  const agent = ctx.query.get("agent") || "";
  return page(
    "Dashboard",
    card("Waiting for you", waiting(ctx)),
    card("Portfolio", glance(ctx), h("a", { href: "/reports", class: "button secondary" }, "All reports")),
    card("Collection sheet", adminSheet(ctx, day, agent)),
  );
}

export const routes = [
  {
    path: "/",
    title: "Home",
    render: (ctx) => (ctx.session.role === "ADMIN" ? renderAdminHome(ctx) : renderAgentHome(ctx)),
  },
];

