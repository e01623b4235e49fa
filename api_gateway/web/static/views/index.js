// Every screen's routes, in one list the shell reads. Add a module's routes here.

import { routes as auth } from "./auth.js";

export const routes = [...auth];
