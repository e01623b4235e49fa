// Every screen's routes, in one list the shell reads. Add a module's routes here.

import { routes as admin } from "./admin.js";
import { routes as auth } from "./auth.js";
import { routes as borrowers } from "./borrowers.js";
import { routes as home } from "./home.js";
import { routes as loans } from "./loans.js";
import { routes as payments } from "./payments.js";
import { routes as reports } from "./reports.js";

export const routes = [...auth, ...home, ...payments, ...borrowers, ...loans, ...reports, ...admin];
