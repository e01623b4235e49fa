// Loans: the list with filters, the application form with a live schedule preview from the
// product, and a loan's page (timeline, summary, schedule, transactions, payoff quote and the
// actions the user's role allows, each refusal shown next to its action).

import { ApiError } from "../api.js";
import {
  actionButton,
  badge,
  card,
  date,
  dateTime,
  describe,
  errorBox,
  facts,
  form,
  h,
  invalid,
  label,
  loader,
  money,
  options,
  page,
  pagedTable,
  parseAmount,
  percent,
  spinner,
  stats,
  table,
  toast,
  today,
} from "../ui.js";
import { fullName } from "./borrowers.js";

const STATUSES = ["SUBMITTED", "APPROVED", "ACTIVE", "CLOSED", "REJECTED", "WITHDRAWN", "WRITTEN_OFF"];
const PAGE_SIZE = 20;
const STALE =
  "This loan was changed by someone else after you opened it. Reload the page to see it as it is now, then try again.";
const FREQUENCY = { WEEKLY: "weekly", BIWEEKLY: "fortnightly", MONTHLY: "monthly" };

const enc = encodeURIComponent;
const isAdmin = (ctx) => ctx.session.role === "ADMIN";

/** A date that does not break across lines in a table cell. */
function day(iso) {
  return h("span", { class: "nowrap" }, date(iso));
}

function isZero(value) {
  return !value || Number(value.amount_minor) === 0;
}

// ---------------------------------------------------------------- the list

function loanColumns() {
  return [
    { label: "Loan", value: (l) => h("a", { href: `/loans/${enc(l.id)}`, class: "nowrap", testid: "loan-link" }, l.loan_number) },
    { label: "Borrower", value: (l) => l.borrower_name || "—" },
    { label: "Status", value: (l) => badge(l.status) },
    { label: "Principal", num: true, value: (l) => money(l.principal) },
    { label: "Outstanding", num: true, value: (l) => (l.summary ? money(l.summary.total_outstanding) : "—") },
    { label: "Days past due", num: true, value: (l) => (l.summary ? String(l.summary.days_past_due) : "—") },
    { label: "Next due", value: (l) => (l.summary ? date(l.summary.next_due_date) : "—") },
  ];
}

/** The filters as API query parameters, checked here first so the message names the field. */
function loanQuery(values) {
  const query = {};
  for (const name of ["q", "status", "dpd_min", "dpd_max"]) if (values[name]) query[name] = values[name];
  for (const name of ["dpd_min", "dpd_max"]) {
    if (query[name] && !/^\d+$/.test(query[name])) throw invalid(name, "enter a whole number of days");
  }
  if (query.dpd_min && query.dpd_max && Number(query.dpd_max) < Number(query.dpd_min)) {
    throw invalid("dpd_max", "must not be below the lower bound");
  }
  if (query.q && (query.dpd_min || query.dpd_max)) {
    throw invalid(query.dpd_min ? "dpd_min" : "dpd_max", "cannot be combined with a text search; clear one of them");
  }
  if (!query.q) query.order_by = query.dpd_min || query.dpd_max ? "days_past_due desc" : "submitted_at desc";
  return query;
}

async function renderList(ctx) {
  const results = h("div", { class: "loan-results", testid: "loan-results" }, spinner());
  const fetchPage = (query, token) =>
    ctx.api.get("/loans", { ...query, page_size: PAGE_SIZE, page_token: token }).then((r) => ({
      items: r.loans,
      next: r.page.next_page_token,
      total: r.page.total_size,
    }));
  const show = async (values) => {
    const query = loanQuery(values);
    const first = await fetchPage(query, ""); // a refusal lands next to the filter it names
    const shown = new URLSearchParams(Object.entries(values).filter(([, v]) => v)).toString();
    // The address keeps the filters (a link or a reload shows the same list), unless the
    // user has gone to another page while this answer was on its way.
    if (window.location.pathname === "/loans") history.replaceState({}, "", `/loans${shown ? `?${shown}` : ""}`);
    results.replaceChildren(
      pagedTable(loanColumns(), (token) => (token ? fetchPage(query, token) : Promise.resolve(first)), {
        testid: "loans",
        empty: "No loans match these filters.",
      }),
    );
  };
  const initial = Object.fromEntries(["q", "status", "dpd_min", "dpd_max"].map((n) => [n, ctx.query.get(n) || ""]));
  const filters = form({
    testid: "loan-filters",
    submit: "Show loans",
    fields: [
      { name: "q", label: "Search", type: "search", value: initial.q, attrs: { autocomplete: "off", placeholder: "Loan number or borrower" } },
      { name: "status", label: "Status", type: "select", value: initial.status, options: options(STATUSES, { blank: "Any status" }) },
      { name: "dpd_min", label: "Days past due from", type: "number", value: initial.dpd_min, attrs: { min: 0, inputmode: "numeric", placeholder: "0", title: "Active loans only" } },
      { name: "dpd_max", label: "Days past due to", type: "number", value: initial.dpd_max, attrs: { min: 0, inputmode: "numeric", title: "Active loans only" } },
    ],
    onSubmit: show,
  });
  filters.element.classList.add("toolbar");
  filters.element.querySelector("select").addEventListener("change", () => filters.element.requestSubmit());
  show(initial).catch((error) => {
    results.replaceChildren();
    filters.showError(error);
  });
  return page(
    "Loans",
    h("div", { class: "actions page-actions" }, h("a", { href: "/loans/new", class: "button primary", testid: "new-loan" }, "New application")),
    card(null, filters.element),
    results,
  );
}

// ---------------------------------------------------------------- the application form

/** A search-as-you-type borrower picker writing the chosen id into `input` (a hidden field). */
function borrowerPicker(ctx, input, preselected, problem) {
  const element = h("div", { class: "picker", testid: "borrower-picker" });
  const search = h("input", { id: "borrower-search", type: "search", placeholder: "Name, phone or ID number", autocomplete: "off", "aria-label": "Find the borrower", testid: "borrower-search" });
  const list = h("div", { class: "picker-results", role: "listbox", testid: "borrower-results" });
  let timer = null;
  let seq = 0;

  const choose = (borrower) => {
    input.value = borrower ? borrower.id : "";
    if (!borrower) {
      element.replaceChildren(search, list);
      search.focus();
      return;
    }
    element.replaceChildren(
      h(
        "div",
        { class: "picked", testid: "borrower-chosen" },
        h("span", {}, h("strong", {}, fullName(borrower)), " ", h("span", { class: "muted small" }, borrower.phone || ""), " ", borrower.kyc_status ? badge(borrower.kyc_status) : null),
        h("button", { type: "button", class: "button link", onclick: () => choose(null) }, "Change"),
      ),
    );
  };
  const find = async () => {
    const mine = ++seq;
    const q = search.value.trim();
    if (q.length < 2) {
      list.replaceChildren();
      return;
    }
    list.replaceChildren(spinner("Searching…"));
    try {
      const found = await ctx.api.get("/borrowers", { q, account_status: "ACTIVE", page_size: 8 });
      if (mine !== seq) return; // an answer for text that has changed since
      list.replaceChildren(
        ...(found.borrowers.length
          ? found.borrowers.map((b) =>
              h("button", { type: "button", class: "picker-item", role: "option", testid: "borrower-option", onclick: () => choose(b) },
                h("strong", {}, fullName(b)), h("span", { class: "muted small" }, ` ${b.phone || ""}`)))
          : [h("p", { class: "muted small" }, "No active borrower matches.")]),
      );
    } catch (error) {
      if (mine === seq) list.replaceChildren(errorBox(error));
    }
  };
  search.addEventListener("input", () => {
    clearTimeout(timer);
    seq++;
    timer = setTimeout(find, 250);
  });
  choose(preselected);
  if (!preselected) element.replaceChildren(...(problem ? [errorBox(problem)] : []), search, list);
  return { element, search };
}

function previewView(result) {
  const t = result.totals;
  return [
    facts([
      ["Total repayable", h("strong", { testid: "preview-total" }, money(t.total_repayable))],
      ["Interest", h("span", { testid: "preview-interest" }, money(t.interest))],
      ["Effective APR", h("span", { testid: "preview-apr" }, percent(t.effective_apr))],
      ["Upfront fee", h("span", { testid: "preview-fee" }, money(t.upfront_fee))],
      ["Net disbursed", h("span", { testid: "preview-net" }, money(t.net_disbursed))],
    ]),
    table(
      [
        { label: "#", num: true, value: (r) => String(r.number) },
        { label: "Due", value: (r) => day(r.due_date) },
        { label: "Principal", num: true, value: (r) => money(r.principal_due) },
        { label: "Interest", num: true, value: (r) => money(r.interest_due) },
        { label: "Fee", num: true, value: (r) => money(r.fee_due) },
        { label: "Total", num: true, value: (r) => money(r.total_due) },
      ],
      result.rows,
      { testid: "preview-rows" },
    ),
  ];
}

function productTerms(p) {
  const fee = p.fee ? (p.fee.type === "PERCENT" ? `${p.fee.percent}% upfront fee` : `${money(p.fee.fixed_amount)} upfront fee`) : "no fee";
  return `${percent(p.annual_rate)} a year, ${label(p.interest_method).toLowerCase()}, ${FREQUENCY[p.frequency] || label(p.frequency).toLowerCase()} repayments; ${fee}`;
}

async function renderNew(ctx) { // long: the form, its picker and the live preview share state
  const borrowerId = ctx.query.get("borrower");
  const [products, preselected] = await Promise.all([
    ctx.api.all("/loan-products", "products", { active: true }),
    borrowerId ? ctx.api.get(`/borrowers/${enc(borrowerId)}`).catch((error) => error) : null,
  ]);
  const problem = preselected instanceof Error ? preselected : null;
  if (!products.length) {
    return page("New loan application", h("div", { class: "alert alert-info", testid: "no-products" }, "There is no active loan product yet. An admin creates products under Products."));
  }
  const byId = new Map(products.map((p) => [p.id, p]));
  const wanted = ctx.query.get("product");
  const first = byId.has(wanted) ? wanted : products.length === 1 ? products[0].id : "";

  const preview = h("div", { class: "preview", testid: "preview", "aria-live": "polite" });
  const previewNote = h("p", { class: "muted small", testid: "preview-status" });
  // On a phone the preview is below the form: its gist sits by the submit button too.
  const gist = h("p", { class: "gist", testid: "preview-gist", "aria-live": "polite" });
  const apply = form({
    testid: "loan-form",
    submit: "Submit application",
    extra: gist,
    fields: [
      { name: "borrower_id", label: "Borrower", type: "hidden", required: true, wide: true },
      { name: "product_id", label: "Product", type: "select", required: true, value: first, wide: true, options: [["", "Choose a product"], ...products.map((p) => [p.id, `${p.name} (${p.code})`])], hint: " " },
      { name: "principal", label: "Principal", type: "money", required: true, hint: "Choose a product first" },
      { name: "installments", label: "Installments", type: "number", required: true, attrs: { min: 1, max: 520, step: 1, inputmode: "numeric" }, hint: " " },
      { name: "purpose", label: "Purpose", attrs: { maxlength: 500 }, wide: true },
      { name: "note", label: "Note", type: "textarea", attrs: { maxlength: 1000 }, wide: true },
    ],
    async onSubmit(values) {
      if (!values.borrower_id) throw invalid("borrower_id", "choose the borrower");
      const product = byId.get(values.product_id);
      if (!product) throw invalid("product_id", "choose a product");
      const amount = amountOf(values.principal, product.currency, "principal");
      if (!/^\d+$/.test(values.installments)) throw invalid("installments", "enter a whole number");
      const loan = await ctx.api.post("/loans", {
        borrower_id: values.borrower_id,
        product_id: product.id,
        principal: { amount_minor: amount, currency: product.currency },
        installments: Number(values.installments),
        purpose: values.purpose,
        note: values.note,
      });
      toast(`Application ${loan.loan_number} submitted for approval.`);
      ctx.navigate(`/loans/${enc(loan.id)}`);
    },
  });
  const hintOf = (name, testid) => {
    const hint = apply.inputs.get(name).parentElement.querySelector(".hint");
    hint.dataset.testid = testid;
    return hint;
  };
  const hints = { product: hintOf("product_id", "product-terms"), principal: hintOf("principal", "principal-bounds"), installments: hintOf("installments", "installments-bounds") };

  // The borrower picker lives inside the hidden field's box, so its errors show beneath it.
  const hidden = apply.inputs.get("borrower_id");
  const picker = borrowerPicker(ctx, hidden, problem ? null : preselected, problem);
  hidden.after(picker.element);
  hidden.parentElement.querySelector("label").setAttribute("for", picker.search.id);

  const describeProduct = () => {
    const p = byId.get(apply.inputs.get("product_id").value);
    hints.product.textContent = p ? productTerms(p) : "";
    hints.principal.textContent = p ? `${money(p.principal_min)} to ${money(p.principal_max)}` : "Choose a product first";
    hints.installments.textContent = p ? `${p.installments_min} to ${p.installments_max} ${FREQUENCY[p.frequency] || ""} installments` : "";
    const count = apply.inputs.get("installments");
    if (p) {
      count.min = p.installments_min;
      count.max = p.installments_max;
    }
  };

  // The live preview: debounced; each change makes every answer still in flight stale.
  let seq = 0;
  let timer = null;
  const refreshPreview = async () => {
    const mine = seq;
    const p = byId.get(apply.inputs.get("product_id").value);
    const values = apply.values();
    const wait = (text, problem = false) => {
      preview.replaceChildren();
      gist.textContent = "";
      previewNote.classList.toggle("bad", problem);
      previewNote.textContent = text;
    };
    if (!p) return wait("Choose a product to see its schedule.");
    if (!values.principal || !values.installments) return wait("Enter the principal and the number of installments to see the schedule.");
    let amount;
    try {
      amount = parseAmount(values.principal, p.currency);
    } catch (error) {
      return wait(`Principal: ${error.message}.`, true);
    }
    if (!/^\d+$/.test(values.installments) || Number(values.installments) < 1) return wait("Installments: enter a whole number.", true);
    previewNote.classList.remove("bad");
    previewNote.textContent = "Calculating…";
    try {
      const result = await ctx.api.post(`/loan-products/${enc(p.id)}/preview`, {
        principal: { amount_minor: amount, currency: p.currency },
        installments: Number(values.installments),
      });
      if (mine !== seq) return;
      preview.classList.remove("stale");
      preview.replaceChildren(...previewView(result));
      const first = result.rows[0];
      gist.textContent = first
        ? `Repays ${money(result.totals.total_repayable)} in ${result.rows.length} installments of about ${money(first.total_due)}; ${money(result.totals.net_disbursed)} handed out.`
        : "";
      previewNote.textContent = `${result.rows.length} installments of ${p.name}; the dates assume disbursement today.`;
    } catch (error) {
      if (mine !== seq) return;
      preview.replaceChildren();
      gist.textContent = "";
      previewNote.classList.add("bad");
      previewNote.textContent = error instanceof ApiError && error.fields.length
        ? error.fields.map((f) => `${fieldLabel(f.field)}: ${f.description}`).join("; ")
        : describe(error);
    }
  };
  const changed = () => {
    seq++;
    preview.classList.add("stale");
    clearTimeout(timer);
    timer = setTimeout(refreshPreview, 300);
  };
  apply.inputs.get("product_id").addEventListener("change", () => {
    describeProduct();
    changed();
  });
  for (const name of ["principal", "installments"]) apply.inputs.get(name).addEventListener("input", changed);
  describeProduct();
  refreshPreview();

  return page(
    "New loan application",
    h("div", { class: "grid two apply" }, card(null, apply.element), card("Schedule preview", previewNote, preview)),
  );
}

function fieldLabel(field) {
  const name = field.split(".")[0];
  return { principal: "Principal", installments: "Installments", product_id: "Product" }[name] || label(name);
}

function amountOf(text, currency, field) {
  if (!text) throw invalid(field, "enter an amount");
  try {
    return parseAmount(text, currency);
  } catch (error) {
    throw invalid(field, error.message);
  }
}

// ---------------------------------------------------------------- the loan's page

const staffCache = new Map();

/** Names for staff ids: the user themselves, or (admins only may read /staff) a lookup. */
async function staffNames(ctx, ids) {
  const me = ctx.session.user;
  const names = new Map();
  await Promise.all(
    [...new Set(ids.filter(Boolean))].map(async (id) => {
      if (id === me.id) names.set(id, `${me.full_name} (you)`);
      else if (id.startsWith("service:") || id === "system") names.set(id, "the system");
      else if (isAdmin(ctx)) {
        if (!staffCache.has(id)) staffCache.set(id, ctx.api.get(`/staff/${enc(id)}`).then((s) => s.full_name, () => null));
        const name = await staffCache.get(id);
        if (name) names.set(id, name);
      }
    }),
  );
  return (id, fallback = "a staff member") => names.get(id) || (id ? fallback : "");
}

function timeline(loan, who) {
  const steps = [
    { key: "submitted", text: "Submitted", by: who(loan.submitted_by), at: loan.submitted_at, on: loan.submitted_date },
    { key: "approved", text: "Approved", by: who(loan.approved_by, "an admin"), at: loan.approved_at },
    { key: "rejected", text: "Rejected", by: who(loan.rejected_by, "an admin"), at: loan.rejected_at, note: loan.rejection_reason },
    { key: "withdrawn", text: "Withdrawn", by: who(loan.withdrawn_by), at: loan.withdrawn_at, note: loan.withdrawal_reason },
    {
      key: "disbursed", text: "Disbursed", by: who(loan.disbursed_by, "an admin"), at: loan.disbursed_at,
      note: loan.disbursement_date ? `Value date ${date(loan.disbursement_date)}; first repayment ${date(loan.first_repayment_date)}; matures ${date(loan.maturity_date)}` : "",
    },
    { key: "written_off", text: "Written off", by: who(loan.written_off_by, "an admin"), at: loan.written_off_at, on: loan.written_off_date, note: loan.write_off_reason },
    { key: "closed", text: "Closed", on: loan.closed_date, note: loan.closed_date ? "Repaid in full" : "" },
  ].filter((s) => s.at || s.on);
  const next = {
    SUBMITTED: "Waiting for an admin's approval",
    APPROVED: "Approved; waiting for disbursement",
    ACTIVE: loan.maturity_date ? `Repaying; matures ${date(loan.maturity_date)}` : "Repaying",
  }[loan.status];
  return h(
    "ol",
    { class: "timeline", testid: "timeline" },
    steps.map((s) =>
      h(
        "li",
        { class: `step step-${s.key}`, testid: `timeline-${s.key}` },
        h("strong", {}, s.text),
        h("span", { class: "muted small" }, [s.at ? dateTime(s.at) : date(s.on), s.by ? ` · ${s.by}` : ""].join("")),
        s.note ? h("span", { class: "small" }, s.note) : null,
      ),
    ),
    next ? h("li", { class: "step step-next", testid: "timeline-next" }, h("span", { class: "muted" }, next)) : null,
  );
}

function summaryView(loan, schedule) {
  const s = loan.summary;
  if (!s) {
    // Not out yet: the loan's figures are the schedule's (a preview until disbursement).
    const terms = [
      ["Principal", h("span", { testid: "summary-principal" }, money(loan.principal))],
      ["Installments", `${loan.installments} ${FREQUENCY[loan.product.frequency] || ""}`],
      ["Terms", productTerms(loan.product)],
      ["Submitted", date(loan.submitted_date)],
    ];
    return loader(() => schedule, ({ totals: t }) =>
      facts([
        ...terms,
        ["Total repayable", money(t.total_repayable)],
        ["Interest", money(t.interest)],
        ["Upfront fee", money(t.upfront_fee)],
        ["Net disbursed", money(t.net_disbursed)],
        ["Effective APR", percent(t.effective_apr)],
      ]),
    );
  }
  return facts([
    ["Principal", `${money(loan.principal)} over ${loan.installments} installments`],
    ["Principal left", money(s.outstanding_principal)],
    ["Interest left", money(s.outstanding_interest)],
    ["Fees left", money(s.outstanding_fees)],
    ["Penalties left", money(s.outstanding_penalties)],
    ["Paid", money(s.total_paid)],
    ["Waived", money(s.total_waived)],
    ["Installments paid", `${s.installments_paid} of ${loan.installments}${s.installments_overdue ? `; ${s.installments_overdue} overdue` : ""}`],
    !isZero(s.written_off_amount) ? ["Written off", money(s.written_off_amount)] : null,
    !isZero(s.recovered_amount) ? ["Recovered", money(s.recovered_amount)] : null,
    ["Effective APR", percent(loan.effective_apr)],
    ["As of", date(s.as_of_date)],
  ]);
}

/** The four figures an agent at the door needs first, once the loan is out. */
function summaryTiles(loan) {
  const s = loan.summary;
  if (!s) return null;
  return stats([
    ["Outstanding", money(s.total_outstanding), "summary-outstanding"],
    ["Arrears", money(s.arrears_amount), "summary-arrears"],
    ["Days past due", String(s.days_past_due), "summary-dpd"],
    [s.next_due_date ? `Next due ${date(s.next_due_date)}` : "Next due", s.next_due_date ? money(s.next_due_amount) : "—", "summary-next-due"],
  ]);
}

function scheduleView(schedule) {
  const t = schedule.totals;
  return h(
    "div",
    {},
    table(
      [
        { label: "#", num: true, value: (r) => String(r.number) },
        { label: "Due", value: (r) => day(r.due_date) },
        { label: "Principal", num: true, value: (r) => money(r.principal_due) },
        { label: "Interest", num: true, value: (r) => money(r.interest_due) },
        { label: "Fee", num: true, value: (r) => money(r.fee_due) },
        { label: "Penalty", num: true, value: (r) => money(r.penalty_due) },
        { label: "Total due", num: true, value: (r) => money(r.total_due) },
        { label: "Paid", num: true, value: (r) => money(r.total_paid) },
        {
          label: "Status",
          value: (r) => h("span", { testid: "schedule-status" }, badge(r.status), r.days_past_due ? h("span", { class: "muted small" }, ` ${r.days_past_due} ${r.days_past_due === 1 ? "day" : "days"} late`) : null),
        },
      ],
      schedule.rows,
      { testid: "schedule", empty: "No schedule." },
    ),
    h("h3", { class: "subhead" }, "Totals"),
    facts([
      ["Principal", money(t.principal)],
      ["Interest", money(t.interest)],
      ["Penalties", money(t.penalties)],
      ["Total repayable", h("span", { testid: "schedule-total" }, money(t.total_repayable))],
      ["Upfront fee", money(t.upfront_fee)],
      ["Net disbursed", money(t.net_disbursed)],
      ["Effective APR", percent(t.effective_apr)],
    ]),
  );
}

function split(allocation) {
  if (!allocation) return "";
  const parts = [["principal", allocation.principal], ["interest", allocation.interest], ["fee", allocation.fee], ["penalty", allocation.penalty], ["recovery", allocation.recovery], ["interest forgiven", allocation.interest_waived]];
  return parts.filter(([, v]) => !isZero(v)).map(([n, v]) => `${n} ${money(v)}`).join(" · ");
}

/** One panel under a row of buttons: each button opens (or closes) its own small form. */
function actionPanel() {
  const buttons = h("div", { class: "actions" });
  const panel = h("div", { class: "action-panel" });
  let open = null;
  const close = () => {
    panel.replaceChildren();
    if (open) open.setAttribute("aria-expanded", "false");
    open = null;
  };
  const show = (button, content) => {
    close();
    open = button;
    button.setAttribute("aria-expanded", "true");
    panel.replaceChildren(content);
    const first = panel.querySelector("input, select, textarea");
    if (first) first.focus();
  };
  return {
    element: h("div", {}, buttons, panel),
    add(...nodes) {
      buttons.append(...nodes);
    },
    toggle(text, build, { kind = "secondary", testid } = {}) {
      const button = h("button", { type: "button", class: `button ${kind}`, testid, "aria-expanded": "false" }, text);
      button.addEventListener("click", () => (open === button ? close() : show(button, build(close))));
      buttons.append(button);
      return button;
    },
  };
}

async function renderDetail(ctx) { // long: one page with its cards; each card is a helper
  const id = ctx.params.id;
  const loan = await ctx.api.get(`/loans/${enc(id)}`);
  const who = await staffNames(ctx, [loan.submitted_by, loan.approved_by, loan.rejected_by, loan.withdrawn_by, loan.disbursed_by, loan.written_off_by]);
  const schedule = ctx.api.get(`/loans/${enc(id)}/schedule`);
  schedule.catch(() => {}); // each user of it shows its own failure

  const conflict = h("div", { testid: "conflict" });
  const done = (message) => {
    toast(message);
    ctx.shell.render();
  };
  // Every write pins the version read, so acting on a stale page is a 409, never a surprise.
  const call = async (path, body = {}) => {
    try {
      return await ctx.api.post(path, { ...body, expected_version: loan.version });
    } catch (error) {
      if (error instanceof ApiError && error.status === 409 && error.code === "ABORTED") {
        conflict.replaceChildren(
          h("div", { class: "alert alert-error", role: "alert" }, h("p", {}, STALE),
            h("button", { type: "button", class: "button secondary", testid: "reload", onclick: () => ctx.shell.render() }, "Reload")),
        );
        throw new ApiError(409, { code: "ABORTED", message: STALE });
      }
      throw error;
    }
  };

  const actions = actionsCard(ctx, loan, call, done, schedule);
  const status = badge(loan.status);
  status.dataset.testid = "loan-status";
  const header = h(
    "div",
    { class: "loan-head" },
    status,
    " ",
    h("a", { href: `/borrowers/${enc(loan.borrower_id)}`, testid: "loan-borrower" }, loan.borrower_name || "Borrower"),
    h("span", { class: "muted" }, ` · ${loan.product.name} · ${money(loan.principal)} · ${loan.installments} installments`),
    loan.purpose ? h("p", { class: "muted small" }, `Purpose: ${loan.purpose}`) : null,
  );
  const disbursed = ["ACTIVE", "CLOSED", "WRITTEN_OFF"].includes(loan.status);
  return page(
    `Loan ${loan.loan_number}`,
    header,
    conflict,
    actions,
    summaryTiles(loan),
    h("div", { class: "grid two" }, card("Summary", h("div", { testid: "summary" }, summaryView(loan, schedule))), card("Timeline", timeline(loan, who))),
    card(disbursed ? "Schedule" : "Schedule (a preview until disbursement)", loader(() => schedule, scheduleView)),
    loan.status === "ACTIVE" ? payoffCard(ctx, loan) : null,
    transactionsCard(ctx, loan),
  );
}

function reasonForm(testid, submit, onReason, { kind = "primary", extra = [] } = {}) {
  const f = form({
    testid,
    submit,
    fields: [...extra, { name: "reason", label: "Reason", type: "textarea", required: true, wide: true, attrs: { maxlength: 500 } }],
    async onSubmit(values) {
      if (!values.reason) throw invalid("reason", "give a reason; it is kept with the record");
      await onReason(values);
    },
  });
  if (kind === "danger") f.element.querySelector("button[type=submit]").classList.add("danger");
  return f.element;
}

function actionsCard(ctx, loan, call, done, schedule) { // long: one branch per role and status
  const me = ctx.session.user.id;
  const admin = isAdmin(ctx);
  const panel = actionPanel();
  const path = (verb) => `/loans/${enc(loan.id)}/${verb}`;
  const notes = [];

  if (admin && loan.status === "SUBMITTED") {
    const approve = actionButton("Approve", async () => {
      await call(path("approve"));
      done(`Loan ${loan.loan_number} approved.`);
    }, { kind: "primary", testid: "approve" });
    if (loan.submitted_by === me) {
      // Maker-checker: the API refuses it too, and says why beside the button if it is tried.
      const button = approve.querySelector("button");
      button.disabled = true;
      button.classList.add("blocked");
      button.setAttribute("aria-describedby", "approve-blocked");
      notes.push(h("p", { class: "alert alert-info", id: "approve-blocked", testid: "approve-blocked" }, "You submitted this application; another admin must approve it."));
    }
    panel.add(approve);
  }
  if (admin && loan.status === "APPROVED") {
    // Disbursement needs the borrower's KYC verified: say so before the API has to.
    const kyc = h("div", { testid: "kyc-notice" });
    notes.push(kyc);
    ctx.api.get(`/borrowers/${enc(loan.borrower_id)}`).then(
      (b) => {
        if (b.kyc_status === "VERIFIED") return;
        kyc.replaceChildren(
          h("p", { class: "alert alert-info" }, `${fullName(b)}'s KYC is ${label(b.kyc_status).toLowerCase()}; disbursement needs it verified. `,
            h("a", { href: `/borrowers/${enc(b.id)}` }, "Open the borrower")),
        );
      },
      () => {}, // the disbursement's own refusal says it if this read fails
    );
    panel.toggle("Disburse…", () => {
      const f = form({
        testid: "disburse-form",
        submit: "Disburse",
        fields: [
          { name: "disbursement_date", label: "Disbursement date", type: "date", attrs: { max: today() }, hint: "Leave empty for today; not in the future" },
          { name: "first_repayment_date", label: "First repayment date", type: "date", hint: "Leave empty for one period after disbursement" },
          { name: "note", label: "Note", wide: true, attrs: { maxlength: 1000 } },
        ],
        async onSubmit(values) {
          const body = { note: values.note };
          if (values.disbursement_date) body.disbursement_date = values.disbursement_date;
          if (values.first_repayment_date) body.first_repayment_date = values.first_repayment_date;
          const result = await call(path("disburse"), body);
          done(`Disbursed: ${money(result.net_disbursed)} handed out (upfront fee ${money(result.upfront_fee)}).`);
        },
      });
      return f.element;
    }, { kind: "primary", testid: "disburse" });
  }
  if (admin && ["SUBMITTED", "APPROVED"].includes(loan.status)) {
    panel.toggle("Reject…", () => reasonForm("reject-form", "Reject application", async ({ reason }) => {
      await call(path("reject"), { reason });
      done(`Loan ${loan.loan_number} rejected.`);
    }, { kind: "danger" }), { kind: "danger", testid: "reject" });
  }
  if (loan.status === "SUBMITTED" && (!admin || loan.submitted_by === me)) {
    panel.toggle("Withdraw…", () => reasonForm("withdraw-form", "Withdraw application", async ({ reason }) => {
      await call(path("withdraw"), { reason });
      done(`Application ${loan.loan_number} withdrawn.`);
    }, { kind: "danger" }), { kind: "danger", testid: "withdraw" });
  }
  if (["ACTIVE", "WRITTEN_OFF"].includes(loan.status)) {
    panel.add(h("a", { href: `/payments/new?loan=${enc(loan.id)}`, class: "button primary", testid: "record-repayment" }, loan.status === "ACTIVE" ? "Record repayment" : "Record recovery"));
  }
  if (admin && loan.status === "ACTIVE") {
    panel.toggle("Waive…", () => waiveForm(loan, call, done, schedule), { testid: "waive" });
    panel.toggle("Write off…", () => reasonForm("write-off-form", "Write off", async (values) => {
      const body = { reason: values.reason };
      if (values.write_off_date) body.write_off_date = values.write_off_date;
      const result = await call(path("write-off"), body);
      done(`Loan ${loan.loan_number} written off: ${money(result.written_off_amount)}.`);
    }, { kind: "danger", extra: [{ name: "write_off_date", label: "Write-off date", type: "date", hint: "Leave empty for today" }] }), { kind: "danger", testid: "write-off" });
  }
  if (!notes.length && !panel.element.querySelector("button, a")) return null;
  return card("Actions", h("div", { testid: "actions" }, notes, panel.element));
}

function waiveForm(loan, call, done, schedule) {
  const currency = loan.principal.currency;
  const region = h("div", { testid: "waive-panel" }, spinner());
  schedule.then(
    ({ rows }) => {
      const left = (due, paid, waived) => Number(due.amount_minor) - Number(paid.amount_minor) - Number(waived.amount_minor);
      const open = rows.filter((r) => left(r.interest_due, r.interest_paid, r.interest_waived) > 0 || left(r.penalty_due, r.penalty_paid, r.penalty_waived) > 0);
      if (!open.length) {
        region.replaceChildren(h("p", { class: "muted" }, "No installment has interest or penalty left to waive."));
        return;
      }
      const f = form({
        testid: "waive-form",
        submit: "Waive",
        fields: [
          {
            name: "installment_number", label: "Installment", type: "select", required: true, wide: true,
            options: open.map((r) => [String(r.number), `#${r.number} · due ${date(r.due_date)} · interest ${money({ amount_minor: left(r.interest_due, r.interest_paid, r.interest_waived), currency })} · penalty ${money({ amount_minor: left(r.penalty_due, r.penalty_paid, r.penalty_waived), currency })} left`]),
          },
          { name: "penalty_amount", label: `Penalty to waive (${currency})`, type: "money" },
          { name: "interest_amount", label: `Interest to waive (${currency})`, type: "money" },
          { name: "reason", label: "Reason", type: "textarea", required: true, wide: true, attrs: { maxlength: 500 } },
        ],
        async onSubmit(values) {
          const body = { installment_number: Number(values.installment_number), reason: values.reason };
          if (values.penalty_amount) body.penalty_amount = { amount_minor: amountOf(values.penalty_amount, currency, "penalty_amount"), currency };
          if (values.interest_amount) body.interest_amount = { amount_minor: amountOf(values.interest_amount, currency, "interest_amount"), currency };
          if (!body.penalty_amount && !body.interest_amount) throw invalid("penalty_amount", "enter a penalty or an interest amount to waive");
          if (!values.reason) throw invalid("reason", "give a reason; it is kept with the record");
          const result = await call(`/loans/${enc(loan.id)}/waive`, body);
          done(`Waived ${money(result.transaction.amount)} on installment ${body.installment_number}.`);
        },
      });
      region.replaceChildren(f.element);
    },
    (error) => region.replaceChildren(errorBox(error)),
  );
  return region;
}

function payoffCard(ctx, loan) {
  const region = h("div", { testid: "payoff" });
  const quote = (on) =>
    ctx.api.get(`/loans/${enc(loan.id)}/payoff-quote`, { date: on }).then((q) =>
      region.replaceChildren(
        facts([
          ["To close the loan", h("strong", { testid: "payoff-total" }, money(q.total))],
          ["Principal", money(q.principal)],
          ["Interest", money(q.interest)],
          ["Fees", money(q.fees)],
          ["Penalties", money(q.penalties)],
          ["Interest forgiven", money(q.interest_waived)],
          ["On", date(q.date)],
        ]),
      ),
    );
  const pick = form({
    testid: "payoff-form",
    submit: "Quote",
    fields: [{ name: "date", label: "Pay off on", type: "date", value: today(), attrs: { min: loan.disbursement_date || undefined } }],
    onSubmit: (values) => quote(values.date || undefined),
  });
  pick.element.classList.add("toolbar", "payoff-date");
  region.append(spinner());
  quote(undefined).catch((error) => region.replaceChildren(errorBox(error)));
  return card("Payoff quote", region, pick.element);
}

function transactionsCard(ctx, loan) {
  const admin = isAdmin(ctx);
  const reverse = h("div", { class: "action-panel", testid: "reverse-panel" });
  const openReverse = (t) =>
    reverse.replaceChildren(
      h("p", {}, `Reverse the payment of ${money(t.amount)} on ${date(t.value_date)}. The loan is recalculated without it and the receipt is voided.`),
      reasonForm("reverse-form", "Reverse payment", async ({ reason }) => {
        await ctx.api.post(`/payments/${enc(t.payment_id)}/reverse`, { reason });
        toast("Payment reversed.");
        ctx.shell.render();
      }, { kind: "danger" }),
    );
  const columns = [
    { label: "Date", value: (t) => day(t.value_date) },
    { label: "Type", value: (t) => h("span", {}, badge(t.type), t.reversed ? [" ", badge("REVERSED")] : null) },
    { label: "Amount", num: true, value: (t) => money(t.amount) },
    { label: "Split", value: (t) => h("span", { class: "cell-text" }, split(t.allocation) || (t.installment_number ? `installment ${t.installment_number}` : "")) },
    { label: "Reason", value: (t) => (t.reason ? h("span", { class: "cell-text" }, t.reason) : "") },
    { label: "Receipt", value: (t) => (t.payment_id ? h("a", { href: `/payments/${enc(t.payment_id)}` }, "Receipt") : "") },
  ];
  if (admin) {
    columns.push({
      label: "",
      value: (t) =>
        ["REPAYMENT", "RECOVERY"].includes(t.type) && !t.reversed && t.payment_id
          ? h("button", { type: "button", class: "button danger", testid: "reverse", onclick: () => openReverse(t) }, "Reverse…")
          : "",
    });
  }
  const list = pagedTable(
    columns,
    (token) =>
      ctx.api.get(`/loans/${enc(loan.id)}/transactions`, { page_size: PAGE_SIZE, page_token: token }).then((r) => ({
        items: r.transactions,
        next: r.page.next_page_token,
        total: r.page.total_size,
      })),
    { testid: "transactions", empty: "No transactions yet." },
  );
  return card("Transactions", list, reverse);
}

export const routes = [
  { path: "/loans", title: "Loans", render: renderList },
  { path: "/loans/new", title: "New loan application", render: renderNew },
  { path: "/loans/:id", title: "Loan", render: renderDetail },
];
