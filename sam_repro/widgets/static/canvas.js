// The prompt canvas of sam_repro's demos (an anywidget ES module; shipped with the Python package, so it works
// offline). Three stacked canvases at the image's pixel size: the image, the mask overlay, the prompts.
// Only final prompts go to Python (a click, or a box when the drag ends); the rubber band is drawn here;
// only the mask overlay PNG comes back. `data-handled` on the root tells how many events the kernel has
// answered and `data-drawn` which of them is on the mask layer (tests and the latency benchmark read them).

const BOX = 1;  // the `mode` trait: 0 = points, 1 = box (ToggleButtons.index, jslinked)

function bytesToBlob(value, type) {
  // binary traits arrive as a DataView (or an ArrayBuffer, depending on the front end)
  if (!value) return null;
  const view = value instanceof DataView ? new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
    : new Uint8Array(value.buffer || value);
  return view.byteLength ? new Blob([view], { type }) : null;
}

async function drawPng(canvas, value) {
  const ctx = canvas.getContext("2d");
  const blob = bytesToBlob(value, "image/png");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  if (!blob) return;
  const bitmap = await createImageBitmap(blob);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
  bitmap.close();
}

function star(ctx, x, y, r, fill) {
  ctx.beginPath();
  for (let i = 0; i < 10; i++) {
    const a = (Math.PI / 5) * i - Math.PI / 2, rr = i % 2 ? r * 0.45 : r;
    ctx.lineTo(x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
  ctx.fillStyle = fill;
  ctx.fill();
  ctx.lineWidth = Math.max(1, r / 6);
  ctx.strokeStyle = "white";
  ctx.stroke();
}

function render({ model, el }) {
  const root = document.createElement("div");
  root.className = "sam-demo-canvas";
  root.setAttribute("data-jp-suppress-context-menu", "");  // JupyterLab: right click is a negative point
  const layers = ["image", "mask", "prompts"].map((name) => {
    const c = document.createElement("canvas");
    c.className = `sam-layer sam-${name}-layer`;
    root.appendChild(c);
    return c;
  });
  const [imageLayer, maskLayer, promptLayer] = layers;
  const note = document.createElement("div");
  note.className = "sam-roundtrip";
  el.appendChild(root);
  el.appendChild(note);

  let drag = null;       // {x0, y0, x1, y1, button, shift} while the pointer is down
  let sentAt = null;     // performance.now() of the last event sent
  root.dataset.handled = "0";
  root.dataset.drawn = "0";

  function scale() {
    return Math.max(1, model.get("width") / 200);
  }

  function resize() {
    const w = model.get("width"), h = model.get("height");
    for (const c of layers) { c.width = w; c.height = h; }
    root.style.width = `${model.get("display_width")}px`;
    root.style.aspectRatio = `${w} / ${h}`;
  }

  function drawPrompts() {
    const ctx = promptLayer.getContext("2d");
    ctx.clearRect(0, 0, promptLayer.width, promptLayer.height);
    const r = 6 * scale();
    for (const [x, y, label] of model.get("extra_points")) {  // an extension's points (numbered)
      ctx.fillStyle = "orange"; ctx.beginPath(); ctx.arc(x, y, r * 0.6, 0, 2 * Math.PI); ctx.fill();
      if (label) { ctx.font = `${Math.round(r * 1.6)}px sans-serif`; ctx.fillText(String(label), x + r, y - r); }
    }
    const box = model.get("box");
    if (box && box.length === 4) {
      ctx.setLineDash([4 * scale(), 3 * scale()]); ctx.lineWidth = 1.5 * scale(); ctx.strokeStyle = "yellow";
      ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]); ctx.setLineDash([]);
    }
    for (const [x, y, positive] of model.get("points")) star(ctx, x, y, r, positive ? "limegreen" : "red");
    if (drag && model.get("mode") === BOX) {  // the rubber band lives only here until the drag ends
      ctx.lineWidth = 1.5 * scale(); ctx.strokeStyle = "white";
      ctx.strokeRect(drag.x0, drag.y0, drag.x1 - drag.x0, drag.y1 - drag.y0);
    }
  }

  function toImage(event) {
    const rect = promptLayer.getBoundingClientRect();
    const x = ((event.clientX - rect.left) * promptLayer.width) / rect.width;
    const y = ((event.clientY - rect.top) * promptLayer.height) / rect.height;
    return [Math.min(promptLayer.width - 1, Math.max(0, x)), Math.min(promptLayer.height - 1, Math.max(0, y))];
  }

  function send(message) {
    sentAt = performance.now();
    model.send(message);
  }

  promptLayer.addEventListener("contextmenu", (e) => { e.preventDefault(); e.stopPropagation(); });
  promptLayer.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    const [x, y] = toImage(e);
    drag = { x0: x, y0: y, x1: x, y1: y, button: e.button, shift: e.shiftKey };
    promptLayer.setPointerCapture(e.pointerId);
  });
  promptLayer.addEventListener("pointermove", (e) => {
    if (!drag) return;
    [drag.x1, drag.y1] = toImage(e);
    if (model.get("mode") === BOX) drawPrompts();
  });
  promptLayer.addEventListener("pointerup", (e) => {
    if (!drag) return;
    [drag.x1, drag.y1] = toImage(e);
    const d = drag;
    drag = null;
    if (model.get("mode") === BOX) {
      // in box mode every gesture is a box; a box smaller than 3 px is a slip, not a prompt
      const box = [Math.min(d.x0, d.x1), Math.min(d.y0, d.y1), Math.max(d.x0, d.x1), Math.max(d.y0, d.y1)];
      if (box[2] - box[0] >= 3 && box[3] - box[1] >= 3) send({ event: "box", box });
      drawPrompts();
    } else {
      const positive = !(d.button === 2 || d.shift);
      send({ event: "click", x: d.x0, y: d.y0, positive });
      const ctx = promptLayer.getContext("2d");  // drawn now; Python's points trait confirms it
      star(ctx, d.x0, d.y0, 6 * scale(), positive ? "limegreen" : "red");
    }
  });

  async function onHandled() {
    const handled = model.get("handled");
    root.dataset.handled = String(handled);
    drawPrompts();
    await drawPng(maskLayer, model.get("overlay"));
    root.dataset.drawn = String(handled);
    if (sentAt !== null) {
      const ms = performance.now() - sentAt;
      root.dataset.roundtrip = ms.toFixed(1);
      note.textContent = `click to mask drawn: ${ms.toFixed(0)} ms`;
      sentAt = null;
    }
  }

  model.on("change:width", resize);
  model.on("change:height", resize);
  model.on("change:display_width", resize);
  model.on("change:image", () => drawPng(imageLayer, model.get("image")));
  model.on("change:points", drawPrompts);
  model.on("change:box", drawPrompts);
  model.on("change:extra_points", drawPrompts);
  model.on("change:handled", onHandled);
  resize();
  drawPng(imageLayer, model.get("image")).then(() => { root.dataset.ready = "1"; });
  onHandled();
}

export default { render };
