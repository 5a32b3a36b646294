// The flame graph's JavaScript: zoom on click, search, details on hover. Embedded in every SVG the
// flame graph writer makes (tools/embed_text.py, at build; these leading comment lines are left out).
// Frames are <g class="f" data-x data-w data-d> holding a <title>, a <rect> and a <text>; x and
// width are fractions of the full width, depth counts from the bottom.
var svg, frames, details, matchedText, width, pad = 10, zoomed = null;
function init(evt) {
  svg = document.documentElement;
  frames = Array.prototype.slice.call(document.querySelectorAll("g.f"));
  details = document.getElementById("details");
  matchedText = document.getElementById("matched");
  width = parseFloat(svg.getAttribute("width")) - 2 * pad;
  frames.forEach(function (g) {
    g.addEventListener("mouseover", function () { details.textContent = g.querySelector("title").textContent; });
    g.addEventListener("mouseout", function () { details.textContent = " "; });
    g.addEventListener("click", function () { zoom(g); });
  });
  document.getElementById("reset").addEventListener("click", function () { zoom(null); });
  document.getElementById("search").addEventListener("click", searchPrompt);
  document.getElementById("clear").addEventListener("click", function () { search(""); });
  window.addEventListener("keydown", function (e) {
    if ((e.ctrlKey && e.key === "f") || e.key === "/") { e.preventDefault(); searchPrompt(); }
    if (e.key === "Escape") { search(""); zoom(null); }
  });
  layout(0, 1, -1);
}
function num(g, k) { return parseFloat(g.getAttribute("data-" + k)); }
function fit(g, px) {
  var t = g.querySelector("text"), label = g.getAttribute("data-label");
  var chars = Math.floor((px - 6) / 7);
  t.textContent = chars < 3 ? "" : (label.length <= chars ? label : label.substring(0, chars - 2) + "..");
}
// Shows the frames inside [x0, x0 + w0) at full width; ancestors of the zoomed frame (depth < d0) stay.
function layout(x0, w0, d0) {
  frames.forEach(function (g) {
    var x = num(g, "x"), w = num(g, "w"), d = num(g, "d");
    var inside = x >= x0 - 1e-9 && x + w <= x0 + w0 + 1e-9;
    var ancestor = d < d0 && x <= x0 + 1e-9 && x + w >= x0 + w0 - 1e-9;
    var r = g.querySelector("rect"), t = g.querySelector("text");
    if (!inside && !ancestor) { g.style.display = "none"; return; }
    g.style.display = "";
    var px = ancestor ? pad : pad + (x - x0) / w0 * width;
    var pw = ancestor ? width : w / w0 * width;
    r.setAttribute("x", px); r.setAttribute("width", Math.max(pw - 0.5, 0.1));
    t.setAttribute("x", px + 3);
    g.style.opacity = ancestor ? 0.6 : 1;
    fit(g, pw);
  });
}
function zoom(g) {
  zoomed = g;
  if (!g) layout(0, 1, -1); else layout(num(g, "x"), num(g, "w"), num(g, "d"));
  document.getElementById("reset").style.opacity = g ? 1 : 0.4;
}
function searchPrompt() {
  var term = prompt("Search frames (regular expression):", "");
  if (term !== null) search(term);
}
function search(term) {
  var re = null, spans = [];
  try { re = term ? new RegExp(term) : null; } catch (e) { alert("Not a valid regular expression: " + term); return; }
  frames.forEach(function (g) {
    var r = g.querySelector("rect"), hit = re && re.test(g.getAttribute("data-label"));
    r.setAttribute("fill", hit ? "rgb(230,0,230)" : g.getAttribute("data-fill"));
    if (hit) spans.push([num(g, "x"), num(g, "x") + num(g, "w")]);
  });
  // Share of the total covered by matches, counting nested matches once.
  spans.sort(function (a, b) { return a[0] - b[0]; });
  var covered = 0, end = -1;
  spans.forEach(function (s) {
    if (s[0] >= end) { covered += s[1] - s[0]; end = s[1]; }
    else if (s[1] > end) { covered += s[1] - end; end = s[1]; }
  });
  matchedText.textContent = re ? "Matched: " + (covered * 100).toFixed(1) + "%" : "";
  document.getElementById("clear").style.display = re ? "" : "none";
}
