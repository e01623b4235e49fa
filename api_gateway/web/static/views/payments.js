// Repayments: the form (one idempotency key per form, so a double tap or a retry posts once),
// the receipt (printable, and the PDF), and the list of payments.

import {
  actionButton, badge, card, date, dateTime, facts, form, h, invalid, label, minorToDecimal,
  money, options, page, pagedTable, parseAmount, toast,
} from "../ui.js";

export const CHANNELS = ["CASH", "MOBILE_MONEY", "BANK_TRANSFER"];

/**
 * A repayment form for one loan. `suggested` (Money) pre-fills the amount. The idempotency
 * key is made when the form is made and kept across retries of the same form, so the server
 * posts it once however often it is sent; only a new form gets a new key.
 */
export function repaymentForm(ctx, { loanId, currency, suggested, onPosted, testid = "repayment" }) {
  const idempotencyKey = crypto.randomUUID();
  const repayment = form({
    testid,
    submit: "Post repayment",
    fields: [
      {
        name: "amount", label: `Amount (${currency})`, type: "money", required: true,
        value: suggested && suggested.amount_minor > 0 ? minorToDecimal(suggested.amount_minor, currency) : "",
        errorNames: ["amount.amount_minor", "amount.currency"],
      },
      { name: "channel", label: "Channel", type: "select", options: options(CHANNELS), value: "CASH" },
      { name: "external_reference", label: "Reference", hint: "The mobile-money or bank reference, if any." },
      { name: "value_date", label: "Value date", type: "date", hint: "Leave empty for today." },
      { name: "note", label: "Note", type: "textarea", wide: true },
    ],
    async onSubmit(values) {
      let amountMinor;
      try {
        amountMinor = parseAmount(values.amount, currency);
      } catch (error) {
        throw invalid("amount", error.message);
      }
      if (amountMinor <= 0) throw invalid("amount", "must be more than zero");
      const body = {
        loan_id: loanId,
        amount: { amount_minor: amountMinor, currency },
        channel: values.channel,
        external_reference: values.external_reference,
        note: values.note,
      };
      if (values.value_date) body.value_date = values.value_date;
      const payment = await ctx.api.post("/payments", body, { "Idempotency-Key": idempotencyKey });
      if (payment.status === "REJECTED") {
        throw invalid("amount", payment.rejection_reason || "the loan refused this repayment");
      }
      toast(`Repayment of ${money(payment.amount)} posted · receipt ${payment.receipt_number}`);
      onPosted(payment);
    },
  });
  repayment.element.dataset.idempotencyKey = idempotencyKey;
  return repayment.element;
}

async function renderNewPayment(ctx) {
  const loanId = ctx.query.get("loan");
  if (!loanId) return page("Record a repayment", h("p", {}, "Open a loan first, then choose “Record repayment”."));
  const loan = await ctx.api.get(`/loans/${encodeURIComponent(loanId)}`);
  const summary = loan.summary || {};
  const due = summary.arrears_amount && summary.arrears_amount.amount_minor > 0 ? summary.arrears_amount : summary.next_due_amount;
  return page(
    "Record a repayment",
    card(
      null,
      facts([
        ["Borrower", h("a", { href: `/borrowers/${loan.borrower_id}` }, loan.borrower_name)],
        ["Loan", h("a", { href: `/loans/${loan.id}` }, loan.loan_number)],
        ["Status", badge(loan.status)],
        ["Outstanding", money(summary.total_outstanding)],
        ["In arrears", money(summary.arrears_amount)],
        ["Next due", summary.next_due_date ? `${money(summary.next_due_amount)} on ${date(summary.next_due_date)}` : "—"],
      ]),
    ),
    card(
      null,
      repaymentForm(ctx, {
        loanId: loan.id,
        currency: loan.principal.currency,
        suggested: due,
        onPosted: (payment) => ctx.navigate(`/payments/${payment.id}`, { replace: true }),
      }),
    ),
  );
}

function allocationRows(allocation) {
  if (!allocation) return [];
  return [
    ["Principal", money(allocation.principal)],
    ["Interest", money(allocation.interest)],
    ["Fees", money(allocation.fee)],
    ["Penalties", money(allocation.penalty)],
    allocation.recovery && allocation.recovery.amount_minor ? ["Recovery", money(allocation.recovery)] : null,
    allocation.interest_waived && allocation.interest_waived.amount_minor ? ["Interest forgiven", money(allocation.interest_waived)] : null,
  ];
}

async function openPdf(ctx, paymentId) {
  // Opened before the fetch so pop-up blockers see a user gesture; filled when the PDF arrives.
  const tab = window.open("", "_blank");
  const url = await ctx.api.blobUrl(`/payments/${encodeURIComponent(paymentId)}/receipt`, { format: "pdf" });
  if (tab) tab.location.href = url;
  else window.location.href = url;
}

async function renderReceipt(ctx) {
  const payment = await ctx.api.get(`/payments/${encodeURIComponent(ctx.params.id)}`);
  const reversed = payment.reversal;
  return h(
    "section",
    { class: "page receipt", testid: "receipt" },
    h("h1", {}, "Receipt ", h("span", { testid: "receipt-number" }, payment.receipt_number || "(pending)")),
    reversed
      ? h("div", { class: "alert alert-error" }, `Reversed on ${dateTime(reversed.reversed_at)}: ${reversed.reason}`)
      : null,
    card(
      null,
      facts([
        ["Amount", h("strong", { testid: "receipt-amount" }, money(payment.amount))],
        ["Status", badge(payment.status)],
        ["Value date", date(payment.value_date)],
        ["Channel", label(payment.channel)],
        payment.external_reference ? ["Reference", payment.external_reference] : null,
        ["Borrower", h("a", { href: `/borrowers/${payment.borrower_id}` }, payment.borrower_name)],
        ["Loan", h("a", { href: `/loans/${payment.loan_id}` }, payment.loan_number)],
        ...allocationRows(payment.allocation),
        payment.loan_closed ? ["Loan", "Paid in full and closed"] : null,
        ["Posted", dateTime(payment.posted_at)],
        payment.note ? ["Note", payment.note] : null,
      ]),
    ),
    h(
      "div",
      { class: "actions no-print" },
      h("button", { type: "button", class: "button primary", onclick: () => window.print() }, "Print"),
      actionButton("Open PDF", () => openPdf(ctx, payment.id), { testid: "receipt-pdf" }),
      actionButton("Download PDF", () => ctx.api.download(`/payments/${encodeURIComponent(payment.id)}/receipt`, { format: "pdf" }, `receipt-${payment.receipt_number}.pdf`)),
      h("a", { href: "/", class: "button secondary" }, "Back to collection sheet"),
    ),
  );
}

function renderPayments(ctx) {
  const filters = { from_date: ctx.query.get("from") || "", to_date: ctx.query.get("to") || "", status: ctx.query.get("status") || "" };
  const columns = [
    { label: "Receipt", value: (p) => h("a", { href: `/payments/${p.id}` }, p.receipt_number || "—") },
    { label: "Value date", value: (p) => date(p.value_date) },
    { label: "Borrower", value: (p) => p.borrower_name },
    { label: "Loan", value: (p) => h("a", { href: `/loans/${p.loan_id}` }, p.loan_number) },
    { label: "Channel", value: (p) => label(p.channel) },
    { label: "Status", value: (p) => badge(p.status) },
    { label: "Amount", value: (p) => money(p.amount), num: true },
  ];
  const list = () =>
    pagedTable(
      columns,
      async (token) => {
        const result = await ctx.api.get("/payments", { ...filters, page_size: 50, page_token: token });
        return { items: result.payments, next: result.page.next_page_token, total: result.page.total_size };
      },
      { empty: "No payments match.", testid: "payments" },
    );
  const filter = form({
    testid: "payment-filter",
    submit: "Show",
    fields: [
      { name: "from", label: "From", type: "date", value: filters.from_date, errorNames: ["from_date"] },
      { name: "to", label: "To", type: "date", value: filters.to_date, errorNames: ["to_date"] },
      { name: "status", label: "Status", type: "select", options: options(["POSTED", "REVERSED", "REJECTED", "PENDING"], { blank: "Any" }), value: filters.status },
    ],
    async onSubmit(values) {
      const query = new URLSearchParams(Object.entries(values).filter(([, v]) => v));
      ctx.navigate(`/payments${query.size ? `?${query}` : ""}`, { replace: true });
    },
  });
  return page("Payments", card(null, filter.element), list());
}

export const routes = [
  { path: "/payments", title: "Payments", render: renderPayments },
  { path: "/payments/new", title: "Record a repayment", render: renderNewPayment },
  { path: "/payments/:id", title: "Receipt", render: renderReceipt },
];
