// Small progressive enhancements; every page works without JavaScript.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const text = document.getElementById(button.dataset.copy).textContent.trim();
  try { await navigator.clipboard.writeText(text); button.textContent = "Copied"; }
  catch (e) { window.getSelection().selectAllChildren(document.getElementById(button.dataset.copy)); }
});
document.addEventListener("submit", (event) => {
  const message = event.target.dataset.confirm;
  if (message && !window.confirm(message)) event.preventDefault();
});
document.addEventListener("input", async (event) => {
  const input = event.target.closest("input[data-suggest]");
  if (!input || input.value.length < 1) return;
  const response = await fetch(input.dataset.suggest + "?q=" + encodeURIComponent(input.value),
                               { headers: { "Accept": "application/json" } });
  if (!response.ok) return;
  const list = document.getElementById(input.getAttribute("list"));
  list.replaceChildren(...(await response.json()).map((name) => new Option(name, name)));
});
