// Borrowers: the searchable list, the create and edit forms, and the detail page (KYC,
// contact, addresses, documents, employment, history, loans, and the admin's actions).
// Agents only ever get their own borrowers back from the API; admins get everyone's.

import {
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
  minorToDecimal,
  money,
  options,
  page,
  pagedTable,
  parseAmount,
  spinner,
  table,
  toast,
} from "../ui.js";

const KYC = ["PENDING", "VERIFIED", "REJECTED"];
const ACCOUNT = ["ACTIVE", "INACTIVE", "BLACKLISTED"];
const GENDER = ["FEMALE", "MALE", "OTHER"];
const MARITAL = ["SINGLE", "MARRIED", "DIVORCED", "WIDOWED", "SEPARATED"];
const EMPLOYMENT = ["EMPLOYED", "SELF_EMPLOYED", "UNEMPLOYED", "RETIRED", "STUDENT"];
const ID_TYPES = ["NATIONAL_ID", "PASSPORT", "DRIVERS_LICENSE", "VOTER_ID", "OTHER"];
const RISK = ["LOW", "MEDIUM", "HIGH"];
const ADDRESS_KEYS = ["line1", "line2", "city", "region", "postal_code", "country"];
const DOC_KEYS = ["type", "number", "issuer", "issue_date", "expiry_date"];
const MAX_DOCUMENTS = 5;
const PAGE_SIZE = 25;
const DEBOUNCE_MS = 250;
const INCOME = "employment.monthly_income";
const INCOME_CURRENCY = "employment.monthly_income.currency";

export function fullName(b) {
  return [b.first_name, b.middle_name, b.last_name].filter(Boolean).join(" ") || b.id;
}

/** Staff id -> staff record, for admins (GET /staff is theirs only); an empty map if it fails. */
async function agentNames(ctx) {
  return ctx.shell.isAdmin() ? ctx.api.staffById() : new Map();
}

function agentName(agents, id, session) {
  if (!id) return "—";
  if (session.user && id === session.user.id) return `${session.user.full_name} (you)`;
  return agents.get(id)?.full_name || id;
}

function select(name, labelText, values, blank, value, testid) {
  const id = `filter-${name}`;
  return h(
    "div",
    { class: "field filter" },
    h("label", { for: id }, labelText),
    h(
      "select",
      { id, name, testid },
      options(values, { blank }).map(([v, text]) => h("option", { value: v, selected: v === value }, text)),
    ),
  );
}

// ------------------------------------------------------------------ the list

async function renderList(ctx) {
  const admin = ctx.shell.isAdmin();
  const agents = await agentNames(ctx);
  const state = {
    q: (ctx.query.get("q") || "").trim(),
    kyc: ctx.query.get("kyc") || "",
    status: ctx.query.get("status") || "",
  };
  const search = h("input", {
    type: "search",
    id: "borrower-search",
    name: "q",
    value: state.q,
    placeholder: "Name, phone or ID number",
    autocomplete: "off",
    enterkeyhint: "search",
    testid: "borrower-search",
  });
  const kycFilter = select("kyc", "KYC status", KYC, "Any", state.kyc, "filter-kyc");
  const statusFilter = select("status", "Account status", ACCOUNT, "Any", state.status, "filter-status");
  const note = h("p", { class: "muted small", testid: "search-note" });
  const results = h("div", { class: "results", "aria-live": "polite", testid: "borrower-results" });

  const columns = [
    {
      label: "Name",
      value: (b) => h("a", { href: `/borrowers/${encodeURIComponent(b.id)}`, testid: "borrower-link" }, fullName(b)),
    },
    { label: "Phone", value: (b) => b.phone || "—" },
    { label: "ID", value: (b) => (b.identity_documents[0] ? b.identity_documents[0].number : "—") },
    { label: "KYC", value: (b) => badge(b.kyc_status) },
    { label: "Account", value: (b) => badge(b.account_status) },
    admin ? { label: "Agent", value: (b) => agentName(agents, b.assigned_agent_id, ctx.session) } : null,
    { label: "Registered", value: (b) => date(b.audit.created_at) },
  ].filter(Boolean);

  let controller = null;
  const refresh = () => {
    // A newer query replaces the older one: its request is aborted and its table, if an
    // answer still arrives, is no longer on the page.
    controller?.abort();
    controller = new AbortController();
    const { signal } = controller;
    const { q, kyc, status } = state;
    const kept = new URLSearchParams(Object.entries({ q, kyc, status }).filter(([, v]) => v));
    history.replaceState(history.state, "", `/borrowers${kept.toString() ? `?${kept}` : ""}`);
    // A search is ranked by relevance and combines only with the account status on the
    // server, so a KYC filter narrows each page of search results here.
    note.textContent = q
      ? `Best matches first (names may be misspelt).${kyc ? ` Showing ${label(kyc).toLowerCase()} KYC only.` : ""}`
      : "";
    const fetchPage = async (token) => {
      const query = q
        ? { q, account_status: status, page_size: PAGE_SIZE, page_token: token }
        : { kyc_status: kyc, account_status: status, page_size: PAGE_SIZE, page_token: token, order_by: "created_at desc" };
      const body = await ctx.api.request("GET", "/borrowers", { query, signal });
      const filtered = q && kyc;
      return {
        items: filtered ? body.borrowers.filter((b) => b.kyc_status === kyc) : body.borrowers,
        next: body.page.next_page_token,
        total: filtered ? 0 : body.page.total_size,
      };
    };
    const empty = q ? `No borrower matches “${q}”.` : kyc || status ? "No borrower has this status." : "No borrowers yet.";
    results.replaceChildren(pagedTable(columns, fetchPage, { testid: "borrower-table", empty }));
  };

  let timer = null;
  const typed = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (!search.isConnected) return; // the user has left the list
      const q = search.value.trim();
      if (q === state.q) return;
      state.q = q;
      refresh();
    }, DEBOUNCE_MS);
  };
  search.addEventListener("input", typed);
  kycFilter.querySelector("select").addEventListener("change", (event) => {
    state.kyc = event.target.value;
    refresh();
  });
  statusFilter.querySelector("select").addEventListener("change", (event) => {
    state.status = event.target.value;
    refresh();
  });
  const searchForm = h(
    "form",
    {
      class: "field search",
      role: "search",
      onsubmit: (event) => {
        event.preventDefault();
        clearTimeout(timer);
        state.q = search.value.trim();
        refresh();
      },
    },
    h("label", { for: "borrower-search" }, "Search"),
    search,
  );
  refresh();
  return page(
    "Borrowers",
    h(
      "div",
      { class: "toolbar" },
      searchForm,
      kycFilter,
      statusFilter,
      h("a", { href: "/borrowers/new", class: "button primary", testid: "new-borrower" }, "New borrower"),
    ),
    note,
    results,
  );
}

// ------------------------------------------------------------------ create and edit

/** The request body as the form would send it for a borrower as stored (the edit baseline). */
function bodyOf(b) {
  const income = b.employment.monthly_income;
  return {
    first_name: b.first_name,
    middle_name: b.middle_name,
    last_name: b.last_name,
    date_of_birth: b.date_of_birth,
    gender: b.gender || null,
    nationality: b.nationality,
    marital_status: b.marital_status || null,
    phone: b.phone,
    alternate_phone: b.alternate_phone,
    email: b.email,
    current_address: Object.fromEntries(ADDRESS_KEYS.map((k) => [k, b.current_address[k]])),
    identity_documents: b.identity_documents.map((d) => Object.fromEntries(DOC_KEYS.map((k) => [k, d[k] || ""]))),
    employment: {
      status: b.employment.status || null,
      employer_or_business: b.employment.employer_or_business,
      occupation: b.employment.occupation,
      monthly_income: income ? { amount_minor: income.amount_minor, currency: income.currency } : null,
    },
    emergency_contact: { ...b.emergency_contact },
    notes: b.notes,
    risk_profile: b.risk_profile || null,
  };
}

function incomeOf(values) {
  const text = values[INCOME];
  const currency = (values[INCOME_CURRENCY] || "").toUpperCase();
  if (!text) return null;
  if (!/^[A-Z]{3}$/.test(currency)) throw invalid(INCOME_CURRENCY, "enter the three-letter currency code, such as KES");
  try {
    return { amount_minor: parseAmount(text, currency), currency };
  } catch (error) {
    throw invalid(INCOME, error.message);
  }
}

/** The form's values as a BorrowerCreate body (enums left blank travel as null). */
function bodyFrom(values, documents, { admin, creating }) {
  const body = {
    first_name: values.first_name,
    middle_name: values.middle_name,
    last_name: values.last_name,
    date_of_birth: values.date_of_birth,
    gender: values.gender || null,
    nationality: values.nationality.toUpperCase(),
    marital_status: values.marital_status || null,
    phone: values.phone,
    alternate_phone: values.alternate_phone,
    email: values.email,
    current_address: Object.fromEntries(
      ADDRESS_KEYS.map((k) => [k, k === "country" ? values[`current_address.${k}`].toUpperCase() : values[`current_address.${k}`]]),
    ),
    identity_documents: documents,
    employment: {
      status: values["employment.status"] || null,
      employer_or_business: values["employment.employer_or_business"],
      occupation: values["employment.occupation"],
      monthly_income: incomeOf(values),
    },
    emergency_contact: {
      name: values["emergency_contact.name"],
      relationship: values["emergency_contact.relationship"],
      phone: values["emergency_contact.phone"],
    },
    notes: values.notes,
  };
  if (admin) body.risk_profile = values.risk_profile || null;
  if (admin && creating) body.assigned_agent_id = values.assigned_agent_id;
  return body;
}

const same = (a, b) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
const NESTED = new Set(["current_address", "employment", "emergency_contact"]);

/** Only what changed: nested groups by key (JSON merge), the documents as a whole list. */
export function changesBetween(before, after) {
  const patch = {};
  for (const [key, value] of Object.entries(after)) {
    if (NESTED.has(key)) {
      const changed = Object.entries(value).filter(([k, v]) => !same(v, before[key]?.[k]));
      if (changed.length) patch[key] = Object.fromEntries(changed);
    } else if (!same(value, before[key])) {
      patch[key] = value;
    }
  }
  return patch;
}

/** The identity documents: a fieldset per document, added and removed by the user. Field
 * names carry the index the API will name in its errors (identity_documents[1].number). */
function documentsEditor(f, initial) {
  const list = h("div", { class: "documents", testid: "documents" });
  const slot = f.addField({ name: "identity_documents", errorOnly: true });
  let names = [];
  let count = 0;
  const read = () =>
    Array.from({ length: count }, (_, i) =>
      Object.fromEntries(DOC_KEYS.map((k) => [k, f.inputs.get(`identity_documents[${i}].${k}`).value.trim()])),
    );
  const add = h("button", { type: "button", class: "button secondary", testid: "add-document" }, "Add a document");
  const draw = (docs) => {
    names.forEach((name) => f.removeField(name));
    names = [];
    list.replaceChildren();
    docs.forEach((doc, i) => {
      const p = `identity_documents[${i}]`;
      const fields = [
        { name: `${p}.type`, label: "Type", type: "select", options: options(ID_TYPES), value: doc.type || "NATIONAL_ID", required: true },
        { name: `${p}.number`, label: "Number", value: doc.number, required: true, attrs: { autocomplete: "off" } },
        { name: `${p}.issuer`, label: "Issued by", value: doc.issuer },
        { name: `${p}.issue_date`, label: "Issue date", type: "date", value: doc.issue_date },
        { name: `${p}.expiry_date`, label: "Expiry date", type: "date", value: doc.expiry_date },
      ];
      const remove = h(
        "button",
        {
          type: "button",
          class: "button danger",
          testid: `remove-document-${i}`,
          onclick: () => {
            const current = read();
            current.splice(i, 1);
            draw(current);
          },
        },
        `Remove document ${i + 1}`,
      );
      names.push(...fields.map((field) => field.name));
      list.append(
        f.addField({ fieldset: `Document ${i + 1}`, testid: `document-${i}`, fields: [...fields, h("div", { class: "field wide" }, remove)] }),
      );
    });
    count = docs.length;
    add.disabled = count >= MAX_DOCUMENTS;
  };
  add.addEventListener("click", () => {
    draw([...read(), {}]);
    f.inputs.get(`identity_documents[${count - 1}].number`)?.focus();
  });
  draw(initial.length ? initial : [{}]);
  return {
    element: h("div", { class: "wide" }, slot, list, h("div", { class: "actions" }, add)),
    // Every row is sent as it is, so the API's errors name the rows the user sees.
    read,
  };
}

/** The currency an income is most likely in: the borrower's own, else the products'. */
async function defaultCurrency(ctx, borrower) {
  const own = borrower?.employment.monthly_income?.currency;
  if (own) return own;
  try {
    const products = await ctx.api.get("/loan-products", { active: true, page_size: 100 });
    const counts = new Map();
    for (const p of products.products) counts.set(p.currency, (counts.get(p.currency) || 0) + 1);
    return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] || "";
  } catch {
    return "";
  }
}

function borrowerFields(b, { admin, creating, currency, agents }) {
  const income = b?.employment.monthly_income;
  const v = (path) => path.split(".").reduce((o, k) => (o == null ? o : o[k]), b) ?? "";
  return [
    {
      fieldset: "Personal",
      fields: [
        { name: "first_name", label: "First name", required: true, value: v("first_name"), attrs: { autocomplete: "off" } },
        { name: "middle_name", label: "Middle name", value: v("middle_name"), attrs: { autocomplete: "off" } },
        { name: "last_name", label: "Last name", required: true, value: v("last_name"), attrs: { autocomplete: "off" } },
        { name: "date_of_birth", label: "Date of birth", type: "date", required: true, value: v("date_of_birth"), hint: "The borrower must be 18 or older." },
        { name: "gender", label: "Gender", type: "select", options: options(GENDER, { blank: "—" }), value: v("gender") },
        { name: "marital_status", label: "Marital status", type: "select", options: options(MARITAL, { blank: "—" }), value: v("marital_status") },
        { name: "nationality", label: "Nationality", value: v("nationality"), hint: "Two-letter country code, e.g. KE.", attrs: { maxlength: 2, autocapitalize: "characters" } },
      ],
    },
    {
      fieldset: "Contact",
      fields: [
        { name: "phone", label: "Phone", type: "tel", required: true, value: v("phone"), hint: "Any common format, e.g. 0712 345 678." },
        { name: "alternate_phone", label: "Alternate phone", type: "tel", value: v("alternate_phone") },
        { name: "email", label: "Email", type: "email", value: v("email") },
      ],
    },
    {
      fieldset: "Current address",
      fields: [
        { name: "current_address.line1", label: "Address line 1", value: v("current_address.line1") },
        { name: "current_address.line2", label: "Address line 2", value: v("current_address.line2") },
        { name: "current_address.city", label: "City or town", value: v("current_address.city") },
        { name: "current_address.region", label: "Region", value: v("current_address.region") },
        { name: "current_address.postal_code", label: "Postal code", value: v("current_address.postal_code") },
        { name: "current_address.country", label: "Country", value: v("current_address.country"), hint: "Two-letter code, e.g. KE.", attrs: { maxlength: 2, autocapitalize: "characters" } },
      ],
    },
    { fieldset: "Identity documents", testid: "documents-fieldset", fields: [] },
    {
      fieldset: "Employment",
      fields: [
        { name: "employment.status", label: "Status", type: "select", options: options(EMPLOYMENT, { blank: "—" }), value: v("employment.status") },
        { name: "employment.employer_or_business", label: "Employer or business", value: v("employment.employer_or_business") },
        { name: "employment.occupation", label: "Occupation", value: v("employment.occupation") },
        {
          name: INCOME,
          label: "Monthly income",
          type: "money",
          value: income ? minorToDecimal(income.amount_minor, income.currency) : "",
          errorNames: [`${INCOME}.amount_minor`],
          hint: "Leave blank if not known.",
        },
        { name: INCOME_CURRENCY, label: "Income currency", value: income ? income.currency : currency, attrs: { maxlength: 3, autocapitalize: "characters" } },
      ],
    },
    {
      fieldset: "Emergency contact",
      fields: [
        { name: "emergency_contact.name", label: "Name", value: v("emergency_contact.name") },
        { name: "emergency_contact.relationship", label: "Relationship", value: v("emergency_contact.relationship") },
        { name: "emergency_contact.phone", label: "Phone", type: "tel", value: v("emergency_contact.phone") },
      ],
    },
    admin
      ? {
          fieldset: "Admin",
          fields: [
            { name: "risk_profile", label: "Risk profile", type: "select", options: options(RISK, { blank: "—" }), value: v("risk_profile") },
            creating
              ? {
                  name: "assigned_agent_id",
                  label: "Agent",
                  type: "select",
                  required: true,
                  options: [["", "Choose the agent"], ...agents.filter((a) => a.active).map((a) => [a.id, a.full_name])],
                }
              : null,
          ].filter(Boolean),
        }
      : null,
    { name: "notes", label: "Notes", type: "textarea", value: v("notes"), wide: true },
  ].filter(Boolean);
}

/** A 409 answer, in words a person can act on (null when it is not one we know). */
function conflictNote(error) {
  if (error.status !== 409) return null;
  if (error.code === "ALREADY_EXISTS" && error.existingId) {
    return h(
      "p",
      { class: "duplicate", testid: "duplicate" },
      "This identity document is already registered. ",
      h("a", { href: `/borrowers/${encodeURIComponent(error.existingId)}`, testid: "duplicate-link" }, "Open the existing borrower"),
    );
  }
  if (error.code === "ABORTED") {
    return h(
      "p",
      { testid: "version-conflict" },
      "Someone else changed this borrower while you were editing. ",
      h("a", { href: window.location.pathname, testid: "reload" }, "Reload it"),
      " to see their changes, then make yours again.",
    );
  }
  return null;
}

async function renderForm(ctx) {
  const admin = ctx.shell.isAdmin();
  const creating = !ctx.params.id;
  const [borrower, agents] = await Promise.all([
    creating ? null : ctx.api.get(`/borrowers/${encodeURIComponent(ctx.params.id)}`),
    admin && creating ? ctx.api.all("/staff", "staff", { role: "AGENT" }) : [],
  ]);
  const currency = await defaultCurrency(ctx, borrower);
  const baseline = borrower ? bodyOf(borrower) : null;
  let documents = null;
  const f = form({
    testid: "borrower-form",
    submit: creating ? "Register borrower" : "Save changes",
    fields: borrowerFields(borrower, { admin, creating, currency, agents }),
    async onSubmit(values) {
      const body = bodyFrom(values, documents.read(), { admin, creating });
      try {
        if (creating) {
          const created = await ctx.api.post("/borrowers", body);
          toast(`${fullName(created)} is registered.`);
          ctx.navigate(`/borrowers/${encodeURIComponent(created.id)}`);
          return;
        }
        const patch = changesBetween(baseline, body);
        if (!Object.keys(patch).length) {
          toast("Nothing changed.", "info");
          return;
        }
        const saved = await ctx.api.request("PATCH", `/borrowers/${encodeURIComponent(borrower.id)}`, {
          body: patch,
          headers: { "If-Match": `"${borrower.version}"` },
        });
        toast(saved.kyc_status !== borrower.kyc_status ? `Saved. KYC is ${label(saved.kyc_status).toLowerCase()} again.` : "Saved.");
        ctx.navigate(`/borrowers/${encodeURIComponent(borrower.id)}`);
      } catch (error) {
        f.showError(error);
        const note = conflictNote(error);
        if (note) f.note(note);
      }
    },
  });
  documents = documentsEditor(f, borrower ? bodyOf(borrower).identity_documents : []);
  f.element.querySelector('[data-testid="documents-fieldset"] .fieldset-body').append(documents.element);
  const back = creating ? "/borrowers" : `/borrowers/${encodeURIComponent(borrower.id)}`;
  return page(
    creating ? "New borrower" : `Edit ${fullName(borrower)}`,
    borrower?.kyc_status === "VERIFIED"
      ? h("p", { class: "alert alert-info" }, "KYC is verified: changing a name, the date of birth or a document sends it back to pending.")
      : null,
    f.element,
    h("p", {}, h("a", { href: back, class: "button link" }, "Cancel")),
  );
}

// ------------------------------------------------------------------ the detail page

function addressText(a) {
  const lines = [a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(" "), a.region, a.country].filter(Boolean);
  return lines.length ? h("span", { class: "address" }, lines.map((line, i) => [i ? h("br") : null, line])) : null;
}

function age(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-").map(Number);
  const now = new Date();
  let years = now.getFullYear() - y;
  if (now.getMonth() + 1 < m || (now.getMonth() + 1 === m && now.getDate() < d)) years -= 1;
  return ` (${years})`;
}

function loansCard(ctx, b) {
  const columns = [
    { label: "Loan", value: (l) => h("a", { href: `/loans/${encodeURIComponent(l.id)}`, class: "nowrap", testid: "loan-link" }, l.loan_number || l.id) },
    { label: "Status", value: (l) => badge(l.status) },
    { label: "Principal", value: (l) => money(l.principal), num: true },
    { label: "Outstanding", value: (l) => (l.summary ? money(l.summary.total_outstanding) : "—"), num: true },
    { label: "Submitted", value: (l) => date(l.submitted_date) },
  ];
  const fetchPage = async (token) => {
    const body = await ctx.api.get("/loans", { borrower_id: b.id, page_size: PAGE_SIZE, page_token: token });
    return { items: body.loans, next: body.page.next_page_token, total: body.page.total_size };
  };
  return card(
    "Loans",
    pagedTable(columns, fetchPage, { testid: "borrower-loans", empty: "No loans yet." }),
  );
}

const ENUM_FIELDS = new Set(["gender", "marital_status", "employment.status", "kyc_status", "account_status", "risk_profile"]);

/** A history value as a person reads it: money, documents, agents and enums in words. */
function changeValue(field, text, agents, session) {
  if (!text) return "(empty)";
  if (field === "assigned_agent_id") return agentName(agents, text, session);
  if (text.startsWith("{") || text.startsWith("[")) {
    try {
      const value = JSON.parse(text);
      if (value && value.amount_minor !== undefined && value.currency) return money(value);
      if (Array.isArray(value)) return value.map((d) => [label(d.type), d.number].filter(Boolean).join(" ")).join("; ") || "(none)";
    } catch {
      // Not JSON after all: shown as it is.
    }
  }
  return ENUM_FIELDS.has(field) ? label(text) : text;
}

/** The audit trail as a list (it reads better than a table on a phone), newest first. */
function historyCard(ctx, b, agents) {
  const list = h("ol", { class: "history", testid: "borrower-history" });
  const more = h("button", { type: "button", class: "button secondary" }, "Load more");
  const status = h("div", {});
  let token = "";
  const entry = (e) =>
    h(
      "li",
      { class: "history-entry" },
      h(
        "p",
        { class: "history-head" },
        badge(e.action),
        " ",
        h("span", { class: "muted small" }, `${dateTime(e.at)} · ${agentName(agents, e.actor, ctx.session)}`),
      ),
      e.changes.length
        ? h(
            "ul",
            { class: "changes" },
            e.changes.map((c) =>
              h(
                "li",
                {},
                h("span", { class: "change-field" }, c.field),
                ": ",
                h("span", { class: "old" }, changeValue(c.field, c.old_value, agents, ctx.session)),
                " → ",
                h("span", { class: "new" }, changeValue(c.field, c.new_value, agents, ctx.session)),
              ),
            ),
          )
        : null,
      e.reason ? h("p", { class: "small" }, `Reason: ${e.reason}`) : null,
    );
  const load = async () => {
    more.disabled = true;
    status.replaceChildren(spinner());
    try {
      const body = await ctx.api.get(`/borrowers/${encodeURIComponent(b.id)}/history`, { page_size: PAGE_SIZE, page_token: token });
      list.append(...body.entries.map(entry));
      token = body.page.next_page_token;
      status.replaceChildren(list.children.length ? "" : h("p", { class: "muted" }, "No history yet."), token ? more : "");
    } catch (error) {
      status.replaceChildren(errorBox(error, load));
    } finally {
      more.disabled = false;
    }
  };
  more.addEventListener("click", load);
  load();
  return card("History", list, status);
}

/** Deactivate, reactivate, blacklist and reassign: small forms whose errors sit at their fields. */
function adminCard(ctx, b, agents, show) {
  const path = (action) => `/borrowers/${encodeURIComponent(b.id)}/${action}`;
  const done = (message) => (updated) => {
    toast(message);
    show(updated);
  };
  const parts = [];
  if (b.account_status === "ACTIVE") {
    parts.push(
      form({
        testid: "deactivate",
        submit: "Deactivate",
        fields: [{ name: "reason", label: "Reason to deactivate", required: true, hint: "For example: moved out of the area." }],
        onSubmit: async (values) => done("Deactivated.")(await ctx.api.post(path("deactivate"), { reason: values.reason })),
      }).element,
    );
  } else {
    parts.push(
      form({
        testid: "reactivate",
        submit: "Reactivate",
        fields: [{ name: "note", label: "Note (optional)" }],
        onSubmit: async (values) => done("Reactivated.")(await ctx.api.post(path("reactivate"), { note: values.note })),
      }).element,
    );
  }
  if (b.account_status !== "BLACKLISTED") {
    parts.push(
      form({
        testid: "blacklist",
        submit: "Blacklist",
        fields: [{ name: "reason", label: "Reason to blacklist", required: true }],
        onSubmit: async (values) => done("Blacklisted.")(await ctx.api.post(path("blacklist"), { reason: values.reason })),
      }).element,
    );
  }
  const others = [...agents.values()].filter((a) => a.role === "AGENT" && a.active && a.id !== b.assigned_agent_id);
  parts.push(
    form({
      testid: "reassign",
      submit: "Reassign",
      fields: [
        {
          name: "agent_id",
          label: "Move to agent",
          type: "select",
          required: true,
          options: [["", others.length ? "Choose an agent" : "No other active agent"], ...others.map((a) => [a.id, a.full_name])],
        },
        { name: "reason", label: "Reason (optional)" },
      ],
      onSubmit: async (values) => {
        if (!values.agent_id) throw invalid("agent_id", "choose the agent to move the borrower to");
        done("Reassigned.")(await ctx.api.post(path("reassign"), { agent_id: values.agent_id, reason: values.reason }));
      },
    }).element,
  );
  return card("Admin actions", h("div", { class: "admin-actions", testid: "admin-actions" }, parts));
}

function detailContent(ctx, b, agents, show) {
  const admin = ctx.shell.isAdmin();
  const id = encodeURIComponent(b.id);
  const job = b.employment;
  const contact = b.emergency_contact;
  return [
    h("h1", { testid: "borrower-name" }, fullName(b)),
    h("p", { class: "badges" }, "KYC ", h("span", { testid: "kyc-status" }, badge(b.kyc_status)), " · Account ", h("span", { testid: "account-status" }, badge(b.account_status))),
    b.account_status !== "ACTIVE"
      ? h("div", { class: "alert alert-error", testid: "inactive-reason" }, `${label(b.account_status)}: ${b.deactivation_reason || "no reason given"}`)
      : null,
    h(
      "div",
      { class: "actions page-actions" },
      h("a", { href: `/borrowers/${id}/edit`, class: "button secondary", testid: "edit-borrower" }, "Edit"),
      b.account_status === "ACTIVE"
        ? h("a", { href: `/loans/new?borrower=${id}`, class: "button primary", testid: "new-loan" }, "New loan application")
        : null,
      admin && b.kyc_status === "PENDING" ? h("a", { href: `/admin/kyc?borrower=${id}`, class: "button secondary" }, "Verify KYC") : null,
    ),
    h(
      "div",
      { class: "grid two" },
      card(
        "KYC",
        facts([
          ["Status", badge(b.kyc_status)],
          ["Note", b.kyc_note || "—"],
          ["Risk profile", b.risk_profile ? label(b.risk_profile) : "Not set"],
        ]),
      ),
      card(
        "Contact",
        facts([
          ["Phone", b.phone ? h("a", { href: `tel:${b.phone}`, testid: "borrower-phone" }, b.phone) : "—"],
          ["Alternate phone", b.alternate_phone || "—"],
          ["Email", b.email || "—"],
          ["Emergency contact", contact.name ? `${contact.name}${contact.relationship ? ` (${contact.relationship})` : ""} · ${contact.phone}` : "—"],
        ]),
      ),
      card(
        "Personal",
        facts([
          ["Date of birth", `${date(b.date_of_birth)}${age(b.date_of_birth)}`],
          ["Gender", label(b.gender)],
          ["Marital status", label(b.marital_status)],
          ["Nationality", b.nationality || "—"],
          ["Agent", h("span", { testid: "borrower-agent" }, agentName(agents, b.assigned_agent_id, ctx.session))],
          ["Branch", b.branch_id || "—"],
          ["Registered", dateTime(b.audit.created_at)],
        ]),
      ),
      card(
        "Addresses",
        facts([
          ["Current", addressText(b.current_address)],
          ["Permanent", addressText(b.permanent_address)],
        ]),
      ),
      card(
        "Identity documents",
        table(
          [
            { label: "Type", value: (d) => label(d.type) },
            { label: "Number", value: (d) => d.number },
            { label: "Issued by", value: (d) => d.issuer || "—" },
            { label: "Issued", value: (d) => date(d.issue_date) },
            { label: "Expires", value: (d) => date(d.expiry_date) },
          ],
          b.identity_documents,
          { testid: "borrower-documents", empty: "No documents." },
        ),
      ),
      card(
        "Employment",
        facts([
          ["Status", label(job.status)],
          ["Employer or business", job.employer_or_business || "—"],
          ["Occupation", job.occupation || "—"],
          ["Monthly income", h("span", { testid: "monthly-income" }, money(job.monthly_income))],
        ]),
      ),
    ),
    b.notes ? card("Notes", h("p", { class: "notes", testid: "borrower-notes" }, b.notes)) : null,
    loansCard(ctx, b),
    historyCard(ctx, b, agents),
    admin ? adminCard(ctx, b, agents, show) : null,
  ];
}

async function renderDetail(ctx) {
  const [borrower, agents] = await Promise.all([ctx.api.get(`/borrowers/${encodeURIComponent(ctx.params.id)}`), agentNames(ctx)]);
  const root = h("section", { class: "page", testid: "borrower-detail" });
  const show = (b) => {
    document.title = `${fullName(b)} · microfinance`;
    root.replaceChildren(...detailContent(ctx, b, agents, show).filter(Boolean));
  };
  show(borrower);
  return root;
}

async function safe(render, ctx, title) {
  try {
    return await render(ctx);
  } catch (error) {
    return page(title, errorBox(error, () => ctx.shell.render()));
  }
}

export const routes = [
  { path: "/borrowers", title: "Borrowers", render: (ctx) => safe(renderList, ctx, "Borrowers") },
  { path: "/borrowers/new", title: "New borrower", render: (ctx) => safe(renderForm, ctx, "New borrower") },
  { path: "/borrowers/:id/edit", title: "Edit borrower", render: (ctx) => safe(renderForm, ctx, "Edit borrower") },
  { path: "/borrowers/:id", title: "Borrower", render: (ctx) => safe(renderDetail, ctx, "Borrower") },
];
