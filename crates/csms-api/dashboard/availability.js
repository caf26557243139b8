// Availability reports: the place for them is kept here. Ström's API has no availability
// report yet (uptime per station and connector over a period); until it has, this page says
// so and shows no figure, rather than figures the server never computed.

import { h, fill } from "./dom.js";

export function availabilityReports(container) {
  fill(container,
    h("h1", {}, "Availability reports"),
    h("section", { class: "card wide placeholder", id: "availability-placeholder", "aria-labelledby": "av-h" },
      h("h2", { id: "av-h" }, "Not available yet"),
      h("p", {}, "Ström's API does not compute availability reports yet (the share of time each station and connector ",
        "could charge, per day or month). When it does, they will be shown here."),
      h("p", {}, "Until then: each station's page shows its connectors' current status and availability, and the ",
        h("a", { href: "#/faults" }, "fault board"), " shows when each fault began and how long it lasted.")));
  return { concerns: () => false, async refresh() {} };
}
