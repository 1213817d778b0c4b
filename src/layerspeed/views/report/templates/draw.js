// Draw every figure of the page from its Vega-Lite spec with vega-embed (inlined above).
// Each view is kept in window.layerspeedViews, and each failure is reported on the page.
(function () {
  const data = JSON.parse(document.getElementById("report-data").textContent);
  window.layerspeedViews = {};
  const options = { actions: false, renderer: "svg", mode: "vega-lite" };
  for (const el of document.querySelectorAll("[data-figure]")) {
    const id = el.dataset.figure;
    vegaEmbed(el, data.figures[id], options)
      .then(function (result) {
        window.layerspeedViews[id] = result.view;
        el.dataset.drawn = "true";
      })
      .catch(function (error) {
        console.error("figure " + id + ": " + error);
        const p = document.createElement("p");
        p.className = "error";
        p.textContent = "This figure could not be drawn: " + error;
        el.replaceChildren(p);
      });
  }
})();
