// Renders the dashboard's charts from the JSON embedded in each page. Works offline from file://.
// Every word and number a reader sees comes formatted in that JSON (tier names, colours, labels, hover
// texts, the decimal separators): the vocabulary and the formatting live in Python.
"use strict";
const Dashboard = (() => {
  const data = () => JSON.parse(document.getElementById("data").textContent);
  // Small charts get no toolbar: plotly's would cover their titles.
  const small = { responsive: true, displaylogo: false, displayModeBar: false };
  const layout = (d, extra) => ({ separators: d.separators, ...extra });

  function ranks(id, units, title, d) {
    const listed = units.filter((k) => k.rank !== null);
    Plotly.react(id, [{
      type: "scatter", mode: "markers", x: listed.map((k) => k.rank), y: listed.map((k) => k.name),
      error_x: { type: "data", symmetric: false, array: listed.map((k) => k.high - k.rank),
                 arrayminus: listed.map((k) => k.rank - k.low), color: "#555" },
      marker: { color: listed.map((k) => d.colours[k.tier]), size: 9, line: { width: 1, color: "#333" } },
      text: listed.map((k) => k.text), hoverinfo: "text",
    }], layout(d, { title: { text: title }, height: Math.max(300, 18 * listed.length + 80),
          margin: { l: 150, r: 20, t: 40, b: 40 }, yaxis: { autorange: "reversed" },
          xaxis: { title: { text: "rangering" } } }), small);
  }

  function overview() {
    const d = data();
    const select = document.getElementById("office");
    const draw = () => {
      const office = select.value;
      const rows = d.kommuner.filter((k) => !office || k.statsforvalter === office);
      // One trace per tier, each in its own colour, so that the legend names the colours.
      const traces = d.tiers.map((tier) => {
        const mine = rows.filter((k) => k.tier === tier);
        return {
          type: "choropleth", geojson: window.KOMMUNER_GEOJSON, featureidkey: "properties.kommunenummer",
          name: tier, showlegend: true, showscale: false,
          locations: mine.map((k) => k.code), z: mine.map(() => 1),
          colorscale: [[0, d.colours[tier]], [1, d.colours[tier]]],
          text: mine.map((k) => k.text), hoverinfo: "text", marker: { line: { width: 0.3, color: "#555" } },
        };
      });
      Plotly.react("map", traces, layout(d, {
        geo: { fitbounds: "locations", visible: false }, margin: { l: 0, r: 0, t: 30, b: 0 }, height: 560,
        title: { text: "Helhetlig vurdering per kommune", x: 0.01, xanchor: "left" },
        legend: { title: { text: "Vurdering" }, x: 0.01, y: 0.95, bgcolor: "rgba(255,255,255,0.85)" },
      }), { responsive: true, displaylogo: false });
      // Which kommuner are on the list is decided in Python (vocabulary.ON_LIST), never here.
      ranks("ranks", rows.filter((k) => k.listed).slice(0, 60), "Rangering med 90 % intervall (1 = svakest)", d);
      for (const row of document.querySelectorAll("#list tbody tr")) {
        row.hidden = Boolean(office) && row.dataset.office !== office;
      }
    };
    select.addEventListener("change", draw);
    draw();
  }

  function counties() {
    const d = data();
    ranks("ranks", d.units, d.title, d);
  }

  function funnels() {
    const d = data();
    for (const f of d.funnels) {
      const traces = [
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.upper99, name: d.labels.outer, hoverinfo: "skip", line: { color: "#b2182b", dash: "dot" } },
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.lower99, showlegend: false, hoverinfo: "skip", line: { color: "#b2182b", dash: "dot" } },
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.upper95, name: d.labels.inner, hoverinfo: "skip", line: { color: "#ef8a62" } },
        { type: "scatter", mode: "lines", x: f.limits.n, y: f.limits.lower95, showlegend: false, hoverinfo: "skip", line: { color: "#ef8a62" } },
        { type: "scatter", mode: "markers", x: f.points.map((p) => p.n), y: f.points.map((p) => p.value), name: d.labels.points,
          text: f.points.map((p) => p.text), hoverinfo: "text",
          marker: { color: f.points.map((p) => (p.outside ? "#b2182b" : "#2166ac")), size: 6, opacity: 0.75 } },
      ];
      Plotly.newPlot(f.id, traces, layout(d, { title: { text: `${f.label}, ${d.school_year}` }, height: 420,
        xaxis: { type: "log", title: { text: d.labels.n } }, yaxis: { title: { text: f.label } },
        shapes: [{ type: "line", xref: "paper", x0: 0, x1: 1, y0: f.national, y1: f.national, line: { color: "#333" } }],
        margin: { t: 40 } }), small);
    }
  }

  function profile() {
    const d = data();
    const hover = "%{text}<extra></extra>";
    for (const ind of d.indicators) {
      const traces = [];
      if (ind.high.some((v) => v !== null)) {
        traces.push(
          { type: "scatter", mode: "lines", x: ind.years, y: ind.high, line: { width: 0, color: "#b2182b" }, hoverinfo: "skip", showlegend: false },
          { type: "scatter", mode: "lines", x: ind.years, y: ind.low, line: { width: 0, color: "#b2182b" }, hoverinfo: "skip",
            fill: "tonexty", fillcolor: "rgba(178,24,43,0.18)", name: d.labels.band, legendrank: 2 });
      }
      traces.push({ type: "scatter", mode: "lines+markers", x: ind.years, y: ind.unit, text: ind.text, hovertemplate: hover,
                    name: d.name, legendrank: 1, line: { color: "#b2182b", width: 3 } });
      if (ind.comparison) {
        traces.push({ type: "scatter", mode: "lines+markers", x: ind.years, y: ind.comparison, text: ind.comparison_text,
                      hovertemplate: hover, name: d.labels.comparison, legendrank: 3, line: { color: "#67a9cf" } });
      }
      traces.push({ type: "scatter", mode: "lines+markers", x: ind.years, y: ind.national, text: ind.national_text,
                    hovertemplate: hover, name: d.labels.national, legendrank: 4, line: { color: "#333", dash: "dash" } });
      if (ind.hidden.some((v) => v !== null)) {
        traces.push({ type: "scatter", mode: "markers", x: ind.years, y: ind.hidden, name: d.labels.hidden, legendrank: 5,
                      text: ind.hidden.map((v) => (v === null ? null : d.labels.hidden)), hovertemplate: hover,
                      marker: { symbol: "x-thin-open", size: 12, line: { width: 2, color: "#b2182b" } } });
      }
      Plotly.newPlot(ind.id, traces, layout(d, { title: { text: ind.label }, height: 320,
        margin: { t: 40, b: 30, l: 50, r: 10 }, xaxis: { type: "category" },
        legend: { orientation: "h", y: -0.15, traceorder: "normal" } }), small);
    }
    const u = d.unit;
    if (u.rank !== null) {
      Plotly.newPlot("position", [{ type: "scatter", mode: "markers", x: [u.rank], y: [d.name], text: [u.text], hoverinfo: "text",
        error_x: { type: "data", symmetric: false, array: [u.high - u.rank], arrayminus: [u.rank - u.low], color: "#555" },
        marker: { size: 12, color: d.colour } }],
        layout(d, { title: { text: d.position_title }, height: 180,
          xaxis: { range: [0, u.scored + 1], title: { text: d.labels.rank } }, margin: { l: 120, t: 40, b: 40 } }), small);
    }
  }
  return { overview, counties, funnels, profile };
})();
