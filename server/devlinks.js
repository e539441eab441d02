"use strict";
// The token stays in this page: read once from the link, then dropped from
// the address bar and history; the request goes to authd itself only.
const token = new URLSearchParams(location.search).get("token") || "";
history.replaceState(null, "", location.pathname);
const form = document.querySelector("form");
const output = document.querySelector("output");
if (!token) {
  document.getElementById("no-token").hidden = false;
  form.hidden = true;
}
form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = { token };
  const headers = { "Content-Type": "application/json" };
  for (const input of form.querySelectorAll("input[name]")) {
    if (input.name === "access_token") {
      headers.Authorization = "Bearer " + input.value.trim();
    } else {
      body[input.name] = input.value;
    }
  }
  output.textContent = "Sending…";
  try {
    const resp = await fetch(form.dataset.api, {
      method: "POST", headers, body: JSON.stringify(body),
      credentials: "omit", cache: "no-store", referrerPolicy: "no-referrer",
    });
    output.textContent = resp.status + " " + resp.statusText + "\n" + (await resp.text());
  } catch (err) {
    output.textContent = "Request failed: " + err;
  }
});
