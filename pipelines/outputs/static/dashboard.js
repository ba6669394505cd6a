// Renders the dashboard's charts from the JSON embedded in each page. Works offline from file://.
// Tier names, their colours and who is on the list come in that JSON: the vocabulary lives in Python.
"use strict";
const Dashboard = (() => {
  const data = () => JSON.parse(document.getElementById("data").textContent);
  const config = { responsive: true, displaylogo: false };
  const pct = (p) => (p === null ? "–" : Math.round(p * 100) + " %");

  function overview() {
    const d = data();
    const select = document.getElementById("office");
    const draw = () => {
      const office = select.value;
      const rows = d.kommuner.filter((k) => !office || k.statsforvalter === office);
      Plotly.react("map", [{
        type: "choropleth", geojson: window.KOMMUNER_GEOJSON, featureidkey: "properties.kommunenummer",
        locations: rows.map((k) => k.code), z: rows.map((k) => d.tiers.indexOf(k.tier)),
        text: rows.map((k) => `${k.name}: ${k.tier}, p = ${pct(k.p)}`), hoverinfo: "text",
        colorscale: d.colorscale, zmin: -0.5, zmax: d.tiers.length - 0.5, showscale: false, marker: { line: { width: 0.3, color: "#555" } },
      }], { geo: { fitbounds: "locations", visible: false }, margin: { l: 0, r: 0, t: 30, b: 0 }, height: 560,
            title: { text: "Helhetlig vurdering per kommune" } }, config);
      // Which kommuner are on the list is decided in Python (vocabulary.ON_LIST), never here.
      const listed = rows.filter((k) => k.rank !== null && k.listed).slice(0, 60);
      Plotly.react("ranks", [{
        type: "scatter", mode: "markers", x: listed.map((k) => k.rank), y: listed.map((k) => k.name),
        error_x: { type: "data", symmetric: false, array: listed.map((k) => k.high - k.rank),
                   arrayminus: listed.map((k) => k.rank - k.low), color: "#555" },
        marker: { color: listed.map((k) => d.colours[k.tier]), size: 9, line: { width: 1, color: "#333" } },
        text: listed.map((k) => `${k.name}: rangering ${k.rank} (${k.low}–${k.high}), p = ${pct(k.p)}`), hoverinfo: "text",
      }], { title: { text: "Rangering med 90 % intervall (1 = svakest)" }, height: Math.max(300, 18 * listed.length + 80),
            margin: { l: 150, r: 20, t: 40, b: 40 }, yaxis: { autorange: "reversed" }, xaxis: { title: { text: "rangering" } } }, config);
      for (const row of document.querySelectorAll("#list tbody tr")) {
        row.hidden = Boolean(office) && row.dataset.office !== office;
      }
    };
    select.addEventListener("change", draw);
    draw();
  }

  function funnels() {
    const d = data();
    for (const f of d.funnels) {
      const traces = [
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.upper99, name: "99,8 %", line: { color: "#b2182b", dash: "dot" } },
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.lower99, showlegend: false, line: { color: "#b2182b", dash: "dot" } },
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.upper95, name: "95 %", line: { color: "#ef8a62" } },
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.lower95, showlegend: false, line: { color: "#ef8a62" } },
        { type: "scatter", mode: "markers", x: f.points.map((p) => p.n), y: f.points.map((p) => p.value), name: "kommuner",
          text: f.points.map((p) => `${p.name}: ${p.value} (${p.n} elever)`), hoverinfo: "text",
          marker: { color: f.points.map((p) => (p.outside ? "#b2182b" : "#2166ac")), size: 6, opacity: 0.75 } },
      ];
      Plotly.newPlot(f.id, traces, { title: { text: `${f.label}, ${d.school_year}` }, height: 420,
        xaxis: { type: "log", title: { text: "antall elever" } }, yaxis: { title: { text: f.label } },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: f.national, y1: f.national, line: { color: "#333" } }],
        margin: { t: 40 } }, config);
    }
  }

  function profile() {
    const d = data();
    for (const ind of d.indicators) {
      Plotly.newPlot(ind.id, [
        { type: "scatter", mode: "lines+markers", x: ind.years, y: ind.kommune, name: d.name, line: { color: "#b2182b", width: 3 } },
        { type: "scatter", mode: "lines+markers", x: ind.years, y: ind.fylke, name: "fylket", line: { color: "#67a9cf" } },
        { type: "scatter", mode: "lines+markers", x: ind.years, y: ind.national, name: "landet", line: { color: "#333", dash: "dash" } },
      ], { title: { text: ind.label }, height: 280, margin: { t: 40, b: 40, l: 50, r: 10 }, xaxis: { type: "category" },
           legend: { orientation: "h" } }, config);
    }
    if (d.rank !== null) {
      Plotly.newPlot("position", [{ type: "scatter", mode: "markers", x: [d.rank], y: [d.name],
        error_x: { type: "data", symmetric: false, array: [d.high - d.rank], arrayminus: [d.rank - d.low], color: "#555" },
        marker: { size: 12, color: d.colour } }],
        { title: { text: `Rangering blant ${d.scored} kommuner (90 % intervall)` }, height: 180,
          xaxis: { range: [0, d.scored + 1], title: { text: "rangering (1 = svakest)" } }, margin: { l: 120, t: 40, b: 40 } }, config);
    }
  }
  return { overview, funnels, profile };
})();
