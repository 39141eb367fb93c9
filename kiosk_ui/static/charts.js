/* floorwatch analytics: the instant tooltip of a chart mark (its data-tip) and a chart's
   download as SVG (the markup as served) or PNG (the SVG drawn on a canvas, twice the size). */
"use strict";
(function () {
  const tip = document.getElementById("fw-tip");
  function show(ev) {
    const mark = ev.target.closest("[data-tip]");
    if (!mark) { tip.hidden = true; return; }
    tip.textContent = mark.getAttribute("data-tip");
    tip.hidden = false;
    tip.style.left = (ev.clientX + 12) + "px";
    tip.style.top = (ev.clientY + 12) + "px";
  }
  document.querySelectorAll("figure.chart svg").forEach(function (svg) {
    svg.addEventListener("mousemove", show);
    svg.addEventListener("mouseleave", function () { tip.hidden = true; });
  });

  function save(blob, name) {
    const a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = name;
    document.body.appendChild(a);
    a.click();
    setTimeout(function () { URL.revokeObjectURL(a.href); a.remove(); }, 1000);
  }
  function svgBlob(svg) {
    const text = new XMLSerializer().serializeToString(svg);
    return new Blob(['<?xml version="1.0" encoding="UTF-8"?>\n', text], { type: "image/svg+xml;charset=utf-8" });
  }
  document.querySelectorAll("figure.chart [data-export]").forEach(function (button) {
    button.addEventListener("click", function () {
      const fig = button.closest("figure.chart");
      const svg = fig.querySelector("svg");
      const name = fig.dataset.file;
      if (button.dataset.export === "svg") { save(svgBlob(svg), name + ".svg"); return; }
      const img = new Image();
      const url = URL.createObjectURL(svgBlob(svg));
      img.onload = function () {
        const scale = 2;
        const canvas = document.createElement("canvas");
        canvas.width = svg.width.baseVal.value * scale;
        canvas.height = svg.height.baseVal.value * scale;
        const ctx = canvas.getContext("2d");
        ctx.scale(scale, scale);
        ctx.drawImage(img, 0, 0);
        URL.revokeObjectURL(url);
        canvas.toBlob(function (png) { save(png, name + ".png"); }, "image/png");
      };
      img.src = url;
    });
  });
})();
