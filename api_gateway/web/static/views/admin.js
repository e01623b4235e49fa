// Admin screens: the approvals queue (maker-checker), KYC verification, staff, loan products
// and the end of day. Every route is admin-only; the shell refuses them for agents.

import { ApiError } from "../api.js";
import {
  actionButton,
  badge,
  card,
  date,
  dateTime,
  errorBox,
  facts,
  form,
  h,
  invalid,
  label,
  loader,
  minorToDecimal,
  money,
  moneys,
  options,
  page,
  pagedTable,
  parseAmount,
  spinner,
  stats,
  table,
  toast,
} from "../ui.js";
import { fullName } from "./borrowers.js";

const OWN_SUBMISSION = "You submitted this application; another admin must approve it.";

/** The ETag the API hands out ("3") for an If-Match header. */
function ifMatch(version) {
  return { "If-Match": `"${version}"` };
}

function loanPath(id) {
  return `/loans/${encodeURIComponent(id)}`;
}

/** Staff ids -> records, fetched once per screen (names for "submitted by", "agent"). */
function staffDirectory(api) {
  let pending = null;
  return () => (pending ||= api.staffById());
}

function staffName(directory, id, session) {
  if (!id) return "—";
  if (session.user && id === session.user.id) return "you";
  const person = directory.get(id);
  return person ? person.full_name : id;
}

/** A list of cards that fetches page after page: fetchPage(token) -> {items, next, total}. */
function pagedCards(fetchPage, renderItem, { empty, testid }) {
  const list = h("div", { class: "card-list", testid });
  const region = h("div", { class: "paged" }, spinner());
  const more = h("button", { type: "button", class: "button secondary" }, "Load more");
  const status = h("p", { class: "muted small" });
  let token = "";
  let shown = 0;
  const load = async () => {
    more.disabled = true;
    try {
      const result = await fetchPage(token);
      list.append(...result.items.map(renderItem));
      shown += result.items.length;
      token = result.next || "";
      status.textContent = result.total ? `${shown} of ${result.total}` : "";
      region.replaceChildren(
        shown ? list : h("p", { class: "empty muted", testid: `${testid}-empty` }, empty),
        status,
        token ? more : "",
      );
    } catch (error) {
      region.replaceChildren(list, errorBox(error, load));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  load();
  return region;
}

/** Moves API field errors onto the inputs that show them ("fee" -> "fee.type"). */
function renameFields(error, names) {
  if (error instanceof ApiError) {
    error.fields = error.fields.map((f) => (names[f.field] ? { ...f, field: names[f.field] } : f));
  }
  return error;
}

function nothingChanged() {
  return new ApiError(422, { code: "INVALID_ARGUMENT", message: "Nothing was changed." });
}

function cancelButton(onclick) {
  return h("button", { type: "button", class: "button secondary", testid: "cancel", onclick }, "Cancel");
}

/** A panel above a list where one form at a time opens (create, edit, deactivate...). */
function editorPanel() {
  const element = h("div", { class: "editor", testid: "editor" });
  return {
    element,
    open(title, formApi) {
      formApi.element.querySelector(".actions").append(cancelButton(() => element.replaceChildren()));
      element.replaceChildren(card(title, formApi.element));
      element.scrollIntoView({ block: "start" });
      const first = formApi.element.querySelector("input, select, textarea");
      if (first) first.focus();
    },
    close() {
      element.replaceChildren();
    },
  };
}

// ------------------------------------------------------------------ approvals

function rejectForm(ctx, loan, cell, back) {
  const reject = form({
    testid: "reject-form",
    submit: "Reject application",
    fields: [{ name: "reason", label: "Reason", type: "textarea", required: true, wide: true }],
    async onSubmit(values) {
      if (!values.reason) throw invalid("reason", "say why the application is rejected");
      const updated = await ctx.api.post(`/loans/${encodeURIComponent(loan.id)}/reject`, { reason: values.reason }, ifMatch(loan.version));
      cell.replaceChildren(badge(updated.status), h("p", { class: "muted small" }, `Reason: ${updated.rejection_reason || values.reason}`));
      toast(`${loan.loan_number} rejected.`);
    },
  });
  reject.element.classList.add("compact");
  reject.element.querySelector(".actions").append(cancelButton(back));
  return reject.element;
}

function decisionCell(ctx, loan) {
  const cell = h("div", { class: "decision", testid: "decision" });
  const mine = loan.submitted_by === ctx.session.user.id;
  const approve = actionButton(
    "Approve",
    async () => {
      const updated = await ctx.api.post(`/loans/${encodeURIComponent(loan.id)}/approve`, {}, ifMatch(loan.version));
      cell.replaceChildren(badge(updated.status), h("p", { class: "muted small" }, "Ready to disburse from the loan's page."));
      toast(`${loan.loan_number} approved.`);
    },
    { kind: "primary", testid: "approve" },
  );
  const showButtons = () => {
    const reject = h("button", { type: "button", class: "button danger", testid: "reject" }, "Reject");
    reject.addEventListener("click", () => cell.replaceChildren(rejectForm(ctx, loan, cell, showButtons)));
    const buttons = h("div", { class: "row-actions" }, approve, reject);
    if (mine) cell.replaceChildren(h("p", { class: "own-note small", testid: "own-submission" }, OWN_SUBMISSION), buttons);
    else cell.replaceChildren(buttons);
  };
  if (mine) {
    // Maker-checker: the API refuses it too; the button stays visible but explains itself.
    const button = approve.querySelector("button");
    button.disabled = true;
    button.title = OWN_SUBMISSION;
  }
  showButtons();
  return cell;
}

async function renderApprovals(ctx) {
  const directory = staffDirectory(ctx.api);
  const names = await directory();
  const cells = new Map(); // one decision cell per loan, kept across "Load more"
  const columns = [
    { label: "Loan", value: (l) => h("a", { href: loanPath(l.id), testid: "loan-link" }, l.loan_number || l.id) },
    { label: "Borrower", value: (l) => h("a", { href: `/borrowers/${encodeURIComponent(l.borrower_id)}` }, l.borrower_name || l.borrower_id) },
    { label: "Product", value: (l) => (l.product ? l.product.name : l.product_id) },
    { label: "Principal", num: true, value: (l) => h("span", { testid: "principal" }, money(l.principal)) },
    { label: "Terms", value: (l) => `${l.installments} × ${label(l.product && l.product.frequency).toLowerCase()}` },
    {
      label: "Submitted",
      value: (l) => h("span", {}, dateTime(l.submitted_at), h("br"), h("span", { class: "muted small", testid: "submitted-by" }, `by ${staffName(names, l.submitted_by, ctx.session)}`)),
    },
    {
      label: "Decision",
      value: (l) => {
        if (!cells.has(l.id)) cells.set(l.id, decisionCell(ctx, l));
        return cells.get(l.id);
      },
    },
  ];
  const list = pagedTable(
    columns,
    async (token) => {
      const result = await ctx.api.get("/loans", { status: "SUBMITTED", order_by: "submitted_at", page_size: 25, page_token: token });
      return { items: result.loans, next: result.page.next_page_token, total: result.page.total_size };
    },
    { empty: "No applications are waiting for approval.", testid: "approvals", rowAttrs: (l) => ({ testid: "approval-row", "data-loan-id": l.id, "data-loan-number": l.loan_number }) },
  );
  return page(
    "Approvals",
    h("p", { class: "muted" }, "Applications waiting for a decision, oldest first. Open a loan for its schedule preview and history."),
    h("div", { class: "stack-on-phone" }, list),
  );
}

// ------------------------------------------------------------------ KYC

function documentsTable(documents) {
  const today = new Date().toISOString().slice(0, 10);
  return table(
    [
      { label: "Document", value: (d) => label(d.type) },
      { label: "Number", value: (d) => d.number },
      { label: "Issuer", value: (d) => d.issuer || "—" },
      { label: "Issued", value: (d) => date(d.issue_date) },
      {
        label: "Expires",
        value: (d) => (d.expiry_date && d.expiry_date < today ? h("span", {}, date(d.expiry_date), " ", h("span", { class: "badge badge-overdue", testid: "expired" }, "Expired")) : date(d.expiry_date)),
      },
    ],
    documents || [],
    { empty: "No identity documents recorded." },
  );
}

function kycDecision(ctx, borrower, item) {
  let decision = "VERIFIED";
  const decide = form({
    testid: "kyc-form",
    submit: "Verify",
    fields: [{ name: "note", label: "Note", type: "textarea", wide: true, hint: "Required to reject: the borrower's agent sees it." }],
    async onSubmit(values) {
      const status = decision;
      if (status === "REJECTED" && !values.note) throw invalid("note", "say why the KYC is rejected");
      const updated = await ctx.api.post(`/borrowers/${encodeURIComponent(borrower.id)}/kyc`, { status, note: values.note });
      item.replaceChildren(
        h("p", { testid: "kyc-done" }, `${fullName(borrower)}: KYC `, badge(updated.kyc_status), updated.kyc_note ? ` — ${updated.kyc_note}` : ""),
      );
      toast(`${fullName(borrower)}: KYC ${label(updated.kyc_status).toLowerCase()}.`);
    },
  });
  // Both buttons submit the one form; each says which decision it is.
  const reject = h("button", { type: "submit", class: "button danger", testid: "kyc-reject" }, "Reject");
  reject.addEventListener("click", () => {
    decision = "REJECTED";
  });
  decide.element.querySelector('button[type="submit"]').addEventListener("click", () => {
    decision = "VERIFIED";
  });
  decide.element.querySelector(".actions").append(reject);
  decide.element.classList.add("compact");
  return decide.element;
}

async function renderKyc(ctx) {
  const names = await staffDirectory(ctx.api)();
  const item = (b) => {
    const element = h("div", { class: "card kyc-item", testid: "kyc-item", "data-borrower-id": b.id });
    element.append(
      h("h2", {}, h("a", { href: `/borrowers/${encodeURIComponent(b.id)}` }, fullName(b))),
      facts([
        ["Phone", b.phone],
        ["Date of birth", date(b.date_of_birth)],
        ["Agent", staffName(names, b.assigned_agent_id, ctx.session)],
        ["Branch", b.branch_id],
        ["Registered", dateTime(b.audit && b.audit.created_at)],
        b.kyc_note ? ["Last note", b.kyc_note] : null,
      ]),
      h("h3", {}, "Identity documents"),
      h("div", { class: "stack-on-phone" }, documentsTable(b.identity_documents)),
      kycDecision(ctx, b, element),
    );
    return element;
  };
  return page(
    "KYC verification",
    h("p", { class: "muted" }, "Borrowers whose identity is waiting for a check, oldest first. Check the documents against the originals, then verify or reject with a note."),
    pagedCards(
      async (token) => {
        const result = await ctx.api.get("/borrowers", { kyc_status: "PENDING", order_by: "created_at", page_size: 10, page_token: token });
        return { items: result.borrowers, next: result.page.next_page_token, total: result.page.total_size };
      },
      item,
      { empty: "No borrower is waiting for a KYC check.", testid: "kyc" },
    ),
  );
}

// ------------------------------------------------------------------ staff

const ROLES = ["AGENT", "ADMIN"];

function staffFields(person, session) {
  return [
    { name: "full_name", label: "Full name", required: true, value: person ? person.full_name : "", attrs: { autocomplete: "off" } },
    { name: "role", label: "Role", type: "select", options: options(ROLES), value: person ? person.role : "AGENT", required: true },
    { name: "email", label: "Email (their login)", type: "email", required: true, value: person ? person.email : "", attrs: { autocomplete: "off" } },
    { name: "phone", label: "Phone", type: "tel", value: person ? person.phone : "", hint: "International form, e.g. +254712345678." },
    { name: "branch_id", label: "Branch", required: true, value: person ? person.branch_id : session.user.branch_id },
  ];
}

function createStaffForm(ctx, done) {
  return form({
    testid: "staff-form",
    submit: "Create staff member",
    fields: [
      ...staffFields(null, ctx.session),
      {
        name: "initial_password",
        label: "Initial password",
        type: "password",
        required: true,
        attrs: { autocomplete: "new-password" },
        hint: "Give it to them in person; they choose their own at first login.",
      },
    ],
    async onSubmit(values) {
      const created = await ctx.api.post("/staff", values);
      toast(`${created.full_name} can now log in as ${created.email}.`);
      done();
    },
  });
}

function editStaffForm(ctx, person, done) {
  return form({
    testid: "staff-edit-form",
    submit: "Save changes",
    fields: staffFields(person, ctx.session),
    async onSubmit(values) {
      const changes = {};
      for (const [name, value] of Object.entries(values)) if (value !== (person[name] ?? "")) changes[name] = value;
      if (!Object.keys(changes).length) throw nothingChanged();
      const updated = await ctx.api.patch(`/staff/${encodeURIComponent(person.id)}`, changes, ifMatch(person.version));
      toast(`${updated.full_name} saved.`);
      done();
    },
  });
}

function deactivateStaffForm(ctx, person, done) {
  return form({
    testid: "deactivate-form",
    submit: "Deactivate",
    fields: [{ name: "reason", label: "Reason", type: "textarea", required: true, wide: true, hint: "They are logged out at once and cannot log in until reactivated." }],
    async onSubmit(values) {
      if (!values.reason) throw invalid("reason", "say why the account is deactivated");
      await ctx.api.post(`/staff/${encodeURIComponent(person.id)}/deactivate`, { reason: values.reason });
      toast(`${person.full_name} is deactivated.`);
      done();
    },
  });
}

function resetPasswordForm(ctx, person, done) {
  return form({
    testid: "reset-form",
    submit: "Set temporary password",
    fields: [
      {
        name: "temporary_password",
        label: "Temporary password",
        type: "password",
        required: true,
        attrs: { autocomplete: "new-password" },
        hint: "They must change it at their next login.",
      },
    ],
    async onSubmit(values) {
      if (!values.temporary_password) throw invalid("temporary_password", "enter a temporary password");
      await ctx.api.post(`/staff/${encodeURIComponent(person.id)}/reset-password`, { temporary_password: values.temporary_password });
      toast(`${person.full_name} has a temporary password; they choose a new one at next login.`);
      done();
    },
  });
}

function staffActions(ctx, person, editor, reload) {
  const done = () => {
    editor.close();
    reload();
  };
  const button = (text, testid, open, kind = "secondary") =>
    h("button", { type: "button", class: `button ${kind}`, testid, onclick: open }, text);
  return h(
    "div",
    { class: "row-actions" },
    button("Edit", "edit", () => editor.open(`Edit ${person.full_name}`, editStaffForm(ctx, person, done))),
    person.active
      ? button("Deactivate", "deactivate", () => editor.open(`Deactivate ${person.full_name}`, deactivateStaffForm(ctx, person, done)), "danger")
      : actionButton(
          "Reactivate",
          async () => {
            await ctx.api.post(`/staff/${encodeURIComponent(person.id)}/reactivate`, {});
            toast(`${person.full_name} can log in again.`);
            reload();
          },
          { testid: "reactivate" },
        ),
    button("Reset password", "reset-password", () => editor.open(`Reset the password of ${person.full_name}`, resetPasswordForm(ctx, person, done))),
  );
}

async function renderStaff(ctx) {
  const editor = editorPanel();
  const filters = form({
    testid: "staff-filters",
    submit: "Show",
    fields: [
      { name: "role", label: "Role", type: "select", options: options(ROLES, { blank: "All roles" }) },
      { name: "active", label: "Status", type: "select", options: [["true", "Active"], ["false", "Deactivated"], ["", "All"]], value: "true" },
    ],
    async onSubmit() {
      reload();
    },
  });
  filters.element.classList.add("toolbar");
  const listHolder = h("div", { class: "stack-on-phone" });
  const columns = [
    { label: "Name", value: (s) => h("span", {}, h("strong", { testid: "staff-name" }, s.full_name), h("br"), h("span", { class: "muted small" }, s.email)) },
    { label: "Phone", value: (s) => s.phone || "—" },
    { label: "Role", value: (s) => badge(s.role) },
    { label: "Branch", value: (s) => s.branch_id },
    {
      label: "Status",
      value: (s) =>
        s.active
          ? h("span", { class: "badge badge-active" }, "Active")
          : h("span", {}, h("span", { class: "badge badge-inactive" }, "Deactivated"), s.deactivation_reason ? h("span", { class: "muted small block" }, s.deactivation_reason) : null),
    },
    { label: "Actions", value: (s) => staffActions(ctx, s, editor, reload) },
  ];
  function reload() {
    const { role, active } = filters.values();
    listHolder.replaceChildren(
      loader(
        () => ctx.api.all("/staff", "staff", { role, active, order_by: "full_name" }),
        (staff) => table(columns, staff, { empty: "No staff member matches.", testid: "staff", rowAttrs: (s) => ({ testid: "staff-row", "data-email": s.email }) }),
      ),
    );
  }
  reload();
  const create = h("button", { type: "button", class: "button primary", testid: "new-staff" }, "New staff member");
  create.addEventListener("click", () =>
    editor.open("New staff member", createStaffForm(ctx, () => {
      editor.close();
      reload();
    })),
  );
  return page("Staff", h("div", { class: "toolbar" }, create), editor.element, filters.element, listHolder);
}

// ------------------------------------------------------------------ products

const FREQUENCIES = ["WEEKLY", "BIWEEKLY", "MONTHLY"];
const METHODS = ["FLAT", "DECLINING_BALANCE"];
const AMORTIZATIONS = ["EQUAL_INSTALLMENTS", "EQUAL_PRINCIPAL"];

function amountText(value) {
  return value && value.currency ? minorToDecimal(value.amount_minor, value.currency) : "";
}

function chargeFields(prefix, noun, charge, penalty) {
  const fields = [
    {
      name: `${prefix}.type`,
      label: "Type",
      type: "select",
      options: [["", `No ${noun.toLowerCase()}`], ["FIXED", "A fixed amount"], ["PERCENT", penalty ? "A percent of the overdue installment" : "A percent of the principal"]],
      value: charge ? charge.type : "",
    },
    { name: `${prefix}.fixed_amount`, label: "Amount", type: "money", value: charge ? amountText(charge.fixed_amount) : "" },
    { name: `${prefix}.percent`, label: "Percent", attrs: { inputmode: "decimal" }, value: charge ? charge.percent : "", hint: "e.g. 2.5 for 2.5%" },
  ];
  if (penalty) {
    fields.push({ name: `${prefix}.grace_days`, label: "Grace days", type: "number", value: charge ? charge.grace_days : 0, attrs: { min: 0, max: 365 }, hint: "Days past due before the penalty is charged." });
  }
  return { fieldset: noun, testid: `fieldset-${prefix}`, fields };
}

function productFields(p) {
  return [
    {
      fieldset: "Product",
      fields: [
        { name: "code", label: "Code", required: true, value: p ? p.code : "", hint: "Short and unique, e.g. GRP-WEEKLY-12." },
        { name: "name", label: "Name", required: true, value: p ? p.name : "" },
        { name: "description", label: "Description", type: "textarea", wide: true, value: p ? p.description : "" },
        { name: "currency", label: "Currency", required: true, value: p ? p.currency : "", attrs: { maxlength: 3, autocapitalize: "characters" }, hint: "ISO 4217 code, e.g. KES." },
        { name: "frequency", label: "Repayment frequency", type: "select", options: options(FREQUENCIES), value: p ? p.frequency : "WEEKLY" },
      ],
    },
    {
      fieldset: "Amounts and terms",
      fields: [
        { name: "principal_min", label: "Smallest principal", type: "money", required: true, value: p ? amountText(p.principal_min) : "" },
        { name: "principal_max", label: "Largest principal", type: "money", required: true, value: p ? amountText(p.principal_max) : "" },
        { name: "installments_min", label: "Fewest installments", type: "number", required: true, value: p ? p.installments_min : "", attrs: { min: 1, max: 520 } },
        { name: "installments_max", label: "Most installments", type: "number", required: true, value: p ? p.installments_max : "", attrs: { min: 1, max: 520 } },
        { name: "max_active_loans_per_borrower", label: "Active loans per borrower (at most)", type: "number", value: p ? p.max_active_loans_per_borrower : 1, attrs: { min: 1, max: 100 } },
      ],
    },
    {
      fieldset: "Interest",
      fields: [
        { name: "annual_rate", label: "Annual interest rate (%)", required: true, value: p ? p.annual_rate : "", attrs: { inputmode: "decimal" }, hint: "Percent a year, e.g. 24.5" },
        { name: "interest_method", label: "Interest method", type: "select", options: options(METHODS), value: p ? p.interest_method : "FLAT" },
        { name: "amortization", label: "Amortization", type: "select", options: options(AMORTIZATIONS), value: p ? p.amortization : "EQUAL_INSTALLMENTS" },
        { name: "principal_grace_installments", label: "Grace installments (interest only)", type: "number", value: p ? p.principal_grace_installments : 0, attrs: { min: 0 } },
        { name: "rounding_multiple_minor", label: "Round installments to a multiple of", type: "money", value: p ? amountText({ amount_minor: p.rounding_multiple_minor, currency: p.currency }) : "", hint: "An amount such as 1.00 or 10; empty: the smallest unit." },
      ],
    },
    chargeFields("fee", "Upfront fee", p && p.fee, false),
    chargeFields("late_penalty", "Late penalty", p && p.late_penalty, true),
  ];
}

// The API's pattern for rates and percents; checked here too for a plainer message.
const RATE = /^[0-9]{1,6}(\.[0-9]{1,10})?$/;

function rateText(values, name, example) {
  const text = values[name];
  if (!text) throw invalid(name, `enter a percent such as ${example}`);
  if (!RATE.test(text)) throw invalid(name, `enter a percent as digits with a dot for decimals, such as ${example}`);
  return text;
}

/** A whole number typed in a field, or an error naming that field. */
function wholeNumber(values, name, fallback) {
  const text = values[name];
  if (text === "" && fallback !== undefined) return fallback;
  if (!/^\d+$/.test(text)) throw invalid(name, "enter a whole number");
  return Number(text);
}

function amountIn(values, name, currency) {
  if (!values[name]) throw invalid(name, "enter an amount");
  try {
    return { amount_minor: parseAmount(values[name], currency), currency };
  } catch (error) {
    throw invalid(name, error.message);
  }
}

function chargeIn(values, prefix, currency, penalty) {
  const type = values[`${prefix}.type`];
  if (!type) return null;
  const charge = { type };
  if (type === "FIXED") charge.fixed_amount = amountIn(values, `${prefix}.fixed_amount`, currency);
  else charge.percent = rateText(values, `${prefix}.percent`, "2.5");
  if (penalty) charge.grace_days = wholeNumber(values, `${prefix}.grace_days`, 0);
  return charge;
}

/** The form's values as a ProductIn body: amounts in minor units of the chosen currency. */
function productBody(values) {
  const currency = values.currency.toUpperCase();
  if (!/^[A-Z]{3}$/.test(currency)) throw invalid("currency", "enter a three-letter ISO 4217 code such as KES");
  let rounding = 1;
  if (values.rounding_multiple_minor) rounding = amountIn(values, "rounding_multiple_minor", currency).amount_minor;
  return {
    code: values.code,
    name: values.name,
    description: values.description,
    currency,
    principal_min: amountIn(values, "principal_min", currency),
    principal_max: amountIn(values, "principal_max", currency),
    installments_min: wholeNumber(values, "installments_min"),
    installments_max: wholeNumber(values, "installments_max"),
    frequency: values.frequency,
    interest_method: values.interest_method,
    amortization: values.amortization,
    annual_rate: rateText(values, "annual_rate", "24.5"),
    principal_grace_installments: wholeNumber(values, "principal_grace_installments", 0),
    rounding_multiple_minor: rounding,
    fee: chargeIn(values, "fee", currency, false),
    late_penalty: chargeIn(values, "late_penalty", currency, true),
    max_active_loans_per_borrower: wholeNumber(values, "max_active_loans_per_borrower", 1),
  };
}

/** The product as the body that would recreate it, to send only what an edit changed. */
function productAsBody(p) {
  const charge = (c, penalty) => {
    if (!c) return null;
    const out = { type: c.type };
    if (c.type === "FIXED") out.fixed_amount = { amount_minor: c.fixed_amount.amount_minor, currency: c.fixed_amount.currency };
    else out.percent = c.percent;
    if (penalty) out.grace_days = c.grace_days;
    return out;
  };
  const amount = (m) => ({ amount_minor: m.amount_minor, currency: m.currency });
  return {
    ...Object.fromEntries(
      ["code", "name", "description", "currency", "installments_min", "installments_max", "frequency", "interest_method", "amortization", "annual_rate", "principal_grace_installments", "rounding_multiple_minor", "max_active_loans_per_borrower"].map((k) => [k, p[k]]),
    ),
    principal_min: amount(p.principal_min),
    principal_max: amount(p.principal_max),
    fee: charge(p.fee, false),
    late_penalty: charge(p.late_penalty, true),
  };
}

/** Shows only the inputs the chosen charge type uses. */
function followChargeTypes(productForm) {
  const wrapper = (name) => productForm.inputs.get(name).closest(".field");
  for (const prefix of ["fee", "late_penalty"]) {
    const type = productForm.inputs.get(`${prefix}.type`);
    const sync = () => {
      wrapper(`${prefix}.fixed_amount`).hidden = type.value !== "FIXED";
      wrapper(`${prefix}.percent`).hidden = type.value !== "PERCENT";
      if (prefix === "late_penalty") wrapper(`${prefix}.grace_days`).hidden = !type.value;
    };
    type.addEventListener("change", sync);
    sync();
  }
}

function productForm(ctx, product, done) {
  const productFormApi = form({
    testid: "product-form",
    submit: product ? "Save changes" : "Create product",
    fields: productFields(product),
    async onSubmit(values) {
      const body = productBody(values);
      try {
        if (!product) {
          const created = await ctx.api.post("/loan-products", body);
          toast(`Product ${created.code} created; it is open to new loans.`);
        } else {
          const before = productAsBody(product);
          const changes = {};
          for (const [key, value] of Object.entries(body)) if (JSON.stringify(value) !== JSON.stringify(before[key])) changes[key] = value;
          if (!Object.keys(changes).length) throw nothingChanged();
          const updated = await ctx.api.patch(`/loan-products/${encodeURIComponent(product.id)}`, changes, ifMatch(product.version));
          toast(`Product ${updated.code} saved. Existing loans keep their terms.`);
        }
      } catch (error) {
        throw renameFields(error, { fee: "fee.type", late_penalty: "late_penalty.type" });
      }
      done();
    },
  });
  followChargeTypes(productFormApi);
  return productFormApi;
}

function chargeText(c, penalty) {
  if (!c) return "—";
  const amount = c.type === "FIXED" ? money(c.fixed_amount) : `${c.percent}%`;
  return penalty && c.grace_days ? `${amount} after ${c.grace_days} days` : amount;
}

async function renderProducts(ctx) {
  const editor = editorPanel();
  const listHolder = h("div", { class: "stack-on-phone" });
  const done = () => {
    editor.close();
    reload();
  };
  const toggle = (p) =>
    p.active
      ? actionButton("Deactivate", async () => {
          await ctx.api.post(`/loan-products/${encodeURIComponent(p.id)}/deactivate`, {});
          toast(`${p.code} is closed to new loans.`);
          reload();
        }, { kind: "danger", testid: "deactivate" })
      : actionButton("Activate", async () => {
          await ctx.api.post(`/loan-products/${encodeURIComponent(p.id)}/activate`, {});
          toast(`${p.code} is open to new loans.`);
          reload();
        }, { testid: "activate" });
  const columns = [
    { label: "Product", value: (p) => h("span", {}, h("strong", { testid: "product-code" }, p.code), h("br"), p.name) },
    { label: "Principal", value: (p) => `${money(p.principal_min)} – ${money(p.principal_max)}` },
    { label: "Installments", value: (p) => `${p.installments_min}–${p.installments_max} ${label(p.frequency).toLowerCase()}` },
    { label: "Interest", value: (p) => h("span", {}, h("span", { testid: "product-rate" }, `${p.annual_rate}%`), " a year", h("br"), h("span", { class: "muted small" }, `${label(p.interest_method)}, ${label(p.amortization).toLowerCase()}`)) },
    { label: "Upfront fee", value: (p) => chargeText(p.fee, false) },
    { label: "Late penalty", value: (p) => chargeText(p.late_penalty, true) },
    { label: "Status", value: (p) => (p.active ? h("span", { class: "badge badge-active" }, "Active") : h("span", { class: "badge badge-inactive" }, "Inactive")) },
    {
      label: "Actions",
      value: (p) =>
        h(
          "div",
          { class: "row-actions" },
          h("button", { type: "button", class: "button secondary", testid: "edit", onclick: () => editor.open(`Edit ${p.code}`, productForm(ctx, p, done)) }, "Edit"),
          toggle(p),
        ),
    },
  ];
  function reload() {
    listHolder.replaceChildren(
      loader(
        () => ctx.api.all("/loan-products", "products", { order_by: "code" }),
        (products) => table(columns, products, { empty: "No loan product yet: create the first one.", testid: "products", rowAttrs: (p) => ({ testid: "product-row", "data-code": p.code }) }),
      ),
    );
  }
  reload();
  const create = h("button", { type: "button", class: "button primary", testid: "new-product" }, "New product");
  create.addEventListener("click", () => editor.open("New loan product", productForm(ctx, null, done)));
  return page("Loan products", h("div", { class: "toolbar" }, create), editor.element, listHolder);
}

// ------------------------------------------------------------------ end of day

/** Share of the run done: whole dates closed plus the current date's loans. */
function runPercent(run) {
  const dates = run.dates.length || 1;
  const index = run.current_date ? Math.max(0, run.dates.indexOf(run.current_date)) : 0;
  const within = run.loans_total ? run.loans_done / run.loans_total : 0;
  return Math.min(100, Math.floor(((index + within) / dates) * 100));
}

function runCard(run, names, session) {
  const percent = runPercent(run);
  const position = run.current_date ? run.dates.indexOf(run.current_date) + 1 : 0;
  return card(
    "Running now",
    h(
      "div",
      { class: "progress-line", testid: "eod-progress" },
      h("progress", { max: 100, value: percent, "aria-label": "End of day progress" }),
      h("strong", { testid: "eod-percent" }, `${percent}%`),
    ),
    facts([
      ["Closing", run.dates.length > 1 ? `${date(run.dates[0])} to ${date(run.target_date)} (${run.dates.length} dates)` : date(run.target_date)],
      ["Now on", run.current_date ? `${date(run.current_date)} (date ${position} of ${run.dates.length}): ${run.loans_done} of ${run.loans_total} loans` : "starting…"],
      ["Started", `${dateTime(run.started_at)} by ${staffName(names, run.requested_by, session)}`],
      run.last_error ? ["Retrying", h("span", { class: "bad", testid: "eod-run-error" }, failureText(run.last_error))] : null,
    ]),
  );
}

/** "message" of a failure record, whatever its shape ({message, at, attempts} or text). */
function failureText(failure) {
  if (typeof failure === "string") return failure;
  const attempts = failure.attempts ? ` after ${failure.attempts} attempt${failure.attempts === 1 ? "" : "s"}` : "";
  const at = failure.at ? ` (${dateTime(failure.at)})` : "";
  return `${failure.message || "no reason given"}${attempts}${at}`;
}

/** The status's failures, when the API reports them: a run given up (failed_run with its
 * last_error), or a plain last_error. */
function failureBox(status) {
  const failed = status.failed_run;
  const lastError = failed ? failed.last_error : status.last_error;
  if (!failed && !lastError) return null;
  const what = failed
    ? `The end of day up to ${date(failed.target_date)} was given up${failed.failed_at ? ` on ${dateTime(failed.failed_at)}` : ""}`
    : "The last end of day failed";
  return h(
    "div",
    { class: "alert alert-error", role: "alert", testid: "eod-last-error" },
    h("p", {}, h("strong", {}, what), lastError ? `: ${failureText(lastError)}` : "."),
    failed ? h("p", {}, "Fix the cause, then run it again below.") : null,
  );
}

function statusView(status, names, session) {
  const closed = status.last_closed;
  return h(
    "div",
    {},
    failureBox(status),
    status.run ? runCard(status.run, names, session) : null,
    card(
      "Last closed date",
      h(
        "p",
        { class: "big-date" },
        status.last_closed_date
          ? h("time", { datetime: status.last_closed_date, testid: "eod-last-closed" }, date(status.last_closed_date))
          : h("span", { testid: "eod-last-closed" }, "No date closed yet"),
      ),
      closed
        ? [
            stats([
              ["Loans processed", String(closed.loans_processed), "eod-loans"],
              ["Installments marked overdue", String(closed.installments_marked_overdue), "eod-overdue"],
              ["Penalties charged", String(closed.penalties_charged), "eod-penalties"],
              ["Penalty totals", closed.penalty_totals.length ? moneys(closed.penalty_totals) : "none", "eod-penalty-totals"],
            ]),
            h("p", { class: "muted small" }, `Closed ${dateTime(closed.closed_at)}; ${closed.snapshot_rows} report rows written.`),
          ]
        : null,
    ),
  );
}

function runForm(ctx, refresh) {
  const outcome = h("div", { testid: "eod-outcome" });
  const run = form({
    testid: "eod-form",
    submit: "Run end of day",
    fields: [
      { name: "date", label: "Business date", type: "date", hint: "Empty: today's business date on the server." },
      { name: "catch_up", label: "Catch up missing dates in order", type: "checkbox", hint: "Closes every date after the last closed one up to this date." },
    ],
    async onSubmit(values) {
      outcome.replaceChildren();
      const body = { catch_up: values.catch_up };
      if (values.date) body.date = values.date;
      const result = await ctx.api.post("/eod", body);
      outcome.replaceChildren(
        result.already_run
          ? h("div", { class: "alert alert-info", role: "status" }, `${date(result.business_date)} is already closed; nothing to run.`)
          : h("div", { class: "alert alert-ok", role: "status" }, `End of day started, closing up to ${date(result.business_date)}.`),
      );
      await refresh();
    },
  });
  return card("Run the end of day", h("p", { class: "muted small" }, "Closes the business date: marks installments overdue, charges late penalties and writes the day's report figures. Dates close in order, one after another."), run.element, outcome);
}

async function renderEod(ctx) {
  const names = await staffDirectory(ctx.api)();
  const statusRegion = h("div", { testid: "eod-status" }, spinner());
  let timer = null;
  let attached = false;
  const refresh = async () => {
    clearTimeout(timer);
    if (statusRegion.isConnected) attached = true;
    else if (attached) return; // the user left the page: stop polling
    try {
      const status = await ctx.api.get("/eod");
      statusRegion.replaceChildren(statusView(status, names, ctx.session));
      if (status.run) timer = setTimeout(refresh, 1000); // follow the run while it goes
    } catch (error) {
      statusRegion.replaceChildren(errorBox(error, refresh));
    }
  };
  await refresh();
  return page("End of day", statusRegion, runForm(ctx, refresh));
}

export const routes = [
  { path: "/admin/approvals", title: "Approvals", admin: true, render: renderApprovals },
  { path: "/admin/kyc", title: "KYC verification", admin: true, render: renderKyc },
  { path: "/admin/staff", title: "Staff", admin: true, render: renderStaff },
  { path: "/admin/products", title: "Loan products", admin: true, render: renderProducts },
  { path: "/admin/eod", title: "End of day", admin: true, render: renderEod },
];
