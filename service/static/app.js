// The page: /models once, then on "Analyze" /compare for every model's score and /predict with
// explain for the words each model saw. Plain JavaScript, no build step, no outside requests.
"use strict";

const EXAMPLES = [
  {
    name: "Loved it",
    text: "One of the best films I have seen in years. The acting is superb, the story is " +
      "moving and the ending is perfect. A masterpiece, I loved every minute of it.",
  },
  {
    name: "Hated it",
    text: "What a waste of time. The plot makes no sense, the dialogue is awful and the acting " +
      "is even worse. Boring from start to finish, the worst movie I have seen this year.",
  },
  {
    name: "Ending decides",
    text: "The first hour is wonderful: beautiful photography, a great cast and a clever, funny " +
      "script that kept me smiling. Then it all falls apart. The last act is stupid, the " +
      "twist is predictable and the ending is so bad that it ruined the whole film for me.",
  },
  {
    name: "Long review",
    text: "I went in with low expectations, because the trailer was dull and the reviews were " +
      "mixed. The opening is slow, and for twenty minutes I wondered why I had bothered. The " +
      "lead actor mumbles, the music is too loud and the jokes fall flat. <br /><br />And yet " +
      "something changes halfway through. The story finds its heart, the two leads finally " +
      "have real chemistry, and the scenes in the old house are genuinely frightening. By the " +
      "end I was completely absorbed. It is not perfect, but it is brave, beautifully shot " +
      "and full of surprises. I would happily watch it again, and I recommend it to anyone " +
      "who loves a great story.",
  },
];

// The service's tokenizer, for display only: which words came before the window.
const FILTERS = /[!"#$%&()*+,\-./:;<=>?@[\\\]^_`{|}~\t\n]/g;
const splitWords = (text) => text.toLowerCase().replace(FILTERS, " ").split(" ").filter(Boolean);
const VISIBLE_CUT = 12;

const $ = (selector) => document.querySelector(selector);
let models = [];

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key === "style") node.style.cssText = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

async function api(path, body) {
  const headers = {};
  const key = $("#api-key").value;
  if (key) headers["x-api-key"] = key;
  const init = body === undefined ? { headers } : {
    method: "POST",
    headers: { ...headers, "content-type": "application/json" },
    body: JSON.stringify(body),
  };
  const response = await fetch(path, init);
  if (response.status === 401) {
    // A service started with SENTIMENT_API_KEY: ask for the key rather than fail.
    $("#key-row").hidden = false;
    $("#api-key").focus();
    throw new Error("this service needs an API key: enter it above, then Analyze");
  }
  const json = await response.json();
  if (!response.ok) throw new Error(json.error ? json.error.message : response.statusText);
  return json;
}

function card(model) {
  return el("article", { class: "model-result", "data-model": model.name },
    el("header", {},
      el("h2", {}, model.name, model.default ? el("span", { class: "tag" }, "default") : ""),
      el("span", { class: "label" })),
    el("p", { class: "arch" },
      `${model.architecture} · ${model.params.toLocaleString("en")} parameters · ` +
      `last ${model.input_length} words` +
      (model.wordpiece_tokens ? ` and ${model.wordpiece_tokens} WordPiece tokens` : "") +
      ` · test accuracy ${model.test_accuracy ?? "n/a"}`),
    el("div", { class: "bar", role: "img" }, el("div", { class: "fill" })),
    el("div", { class: "words" }));
}

function cutWords(words, truncated) {
  const cut = words.slice(0, truncated);
  const hidden = cut.length - VISIBLE_CUT;
  const nodes = [];
  if (hidden > 0) {
    const more = el("button", { type: "button", class: "more" },
      `… ${hidden.toLocaleString("en")} earlier words not seen`);
    const rest = el("span", { class: "rest", hidden: "" },
      ...cut.slice(0, hidden).map((w) => el("span", { class: "word cut" }, w)));
    more.addEventListener("click", () => { rest.hidden = false; more.remove(); });
    nodes.push(more, rest);
  }
  nodes.push(...cut.slice(Math.max(0, hidden)).map((w) => el("span", { class: "word cut" }, w)));
  return nodes;
}

function seenWords(explanation) {
  const biggest = Math.max(1e-6, ...explanation.map((e) => Math.abs(e.contribution)));
  return explanation.map((e) => {
    const sign = e.contribution >= 0 ? "pos" : "neg";
    const alpha = 0.1 + 0.9 * Math.abs(e.contribution) / biggest;
    const strong = alpha > 0.65 ? " strong" : "";
    const tip = `${e.word} (id ${e.id}${e.oov ? ", out of vocabulary" : ""}): ` +
      `${e.contribution >= 0 ? "+" : ""}${e.contribution.toFixed(4)}`;
    return el("span", {
      class: `word ${sign}${strong}${e.oov ? " oov" : ""}`,
      style: `--alpha: ${alpha.toFixed(3)}`,
      title: tip,
    }, e.word);
  });
}

// Three decimals, without rounding a confident score to a certain-looking 0 or 1.
function formatScore(score) {
  if (score < 0.001) return "< 0.001";
  if (score > 0.999) return "> 0.999";
  return score.toFixed(3);
}

function fill(node, prediction, explained, words) {
  const positive = prediction.label === "positive";
  node.querySelector(".label").textContent = `${prediction.label} · ${formatScore(prediction.score)}`;
  node.querySelector(".label").className = `label ${positive ? "pos" : "neg"}`;
  const bar = node.querySelector(".bar");
  bar.setAttribute("aria-label", `score ${formatScore(prediction.score)}`);
  bar.querySelector(".fill").style.width = `${(prediction.score * 100).toFixed(1)}%`;
  bar.className = `bar ${positive ? "pos" : "neg"}`;
  if (!explained.explanation) {
    // A model that also reads WordPiece tokens: deleting one word id explains nothing of it.
    node.querySelector(".words").replaceChildren(
      el("span", { class: "note" }, "Word contributions are not available for this model."));
    node.dataset.score = String(prediction.score);
    return;
  }
  const edge = explained.truncated > 0
    ? [el("span", { class: "window-start", title: "the model's window starts here" })]
    : [];
  node.querySelector(".words").replaceChildren(
    ...cutWords(words, explained.truncated), ...edge, ...seenWords(explained.explanation));
  node.dataset.score = String(prediction.score);
}

async function analyze() {
  const text = $("#review").value;
  if (!text.trim()) {
    $("#status").textContent = "Type a review first.";
    return;
  }
  $("#status").textContent = "Scoring…";
  $("#analyze").disabled = true;
  try {
    if (!models.length) await loadModels();
    const nodes = [...document.querySelectorAll(".model-result")];
    nodes.forEach((node) => delete node.dataset.score);
    const [comparison, ...explained] = await Promise.all([
      api("/compare", { text }),
      ...models.map((m) => api("/predict", { text, model: m.name, explain: m.explainable })),
    ]);
    const words = splitWords(text);
    const byModel = new Map(explained.map((e) => [e.model, e]));
    for (const prediction of comparison.predictions) {
      const node = nodes.find((n) => n.dataset.model === prediction.model);
      if (node) fill(node, prediction, byModel.get(prediction.model), words);
    }
    const labels = comparison.predictions.map((p) => p.label);
    $("#agreement").hidden = false;
    $("#agreement").className = comparison.agree ? "agree" : "disagree";
    $("#agreement").textContent = comparison.agree
      ? `All ${labels.length} models agree: ${labels[0]}.`
      : `The models disagree: ${comparison.predictions.map((p) => `${p.model} ${p.label}`)
        .join(", ")}.`;
    $("#status").textContent = "";
  } catch (error) {
    $("#status").textContent = `Error: ${error.message}`;
  } finally {
    $("#analyze").disabled = false;
  }
}

async function loadModels() {
  const list = await api("/models");
  models = list.models;
  const windows = [...new Set(models.map((m) => m.input_length))].sort((a, b) => a - b);
  $("#window").textContent = windows.length > 1
    ? `${windows.slice(0, -1).join(", ")} or ${windows[windows.length - 1]}`
    : String(windows[0]);
  $("#results").replaceChildren(...models.map(card));
}

async function start() {
  for (const example of EXAMPLES) {
    const button = el("button", { type: "button", class: "example" }, example.name);
    button.addEventListener("click", () => { $("#review").value = example.text; analyze(); });
    $("#examples").append(button);
  }
  $("#analyze").addEventListener("click", analyze);
  $("#review").addEventListener("keydown", (event) => {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) analyze();
  });
  try {
    await loadModels();
  } catch (error) {
    $("#status").textContent = `Cannot list the models: ${error.message}`;
  }
}

start();
