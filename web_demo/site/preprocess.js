// MNIST-style preprocessing of a drawn digit, the same arithmetic as toolkit/pixels/digit.py (tested on its golden
// vectors): crop to the ink, fit it into 20/28 of the field with box resampling, centre by mass, [0, 1].

export const SIZE = 28; // MNIST's field side
export const BOX = 20; // and the digit's longer side in it

/** The share of a field side that the ink may fill: 20 of 28 as in MNIST, rounded half up. */
export function boxSide(side) {
  return Math.max(1, Math.floor((side * BOX) / SIZE + 0.5));
}

/** The crop's size fitted into boxH x boxW keeping its aspect ratio; floor(x + 0.5) as in Python and Kotlin. */
export function fittedSize(cropH, cropW, boxH, boxW) {
  if (boxH * cropW <= boxW * cropH) return [boxH, Math.max(1, Math.floor((cropW * boxH) / cropH + 0.5))];
  return [Math.max(1, Math.floor((cropH * boxW) / cropW + 0.5)), boxW];
}

/**
 * Box-resampling weights from `src` cells to `dst` cells: for each output cell, the source cells it overlaps and
 * the share of the output cell each one covers. Returned sparse, since each output cell touches few sources.
 */
export function areaWeights(src, dst) {
  const step = src / dst;
  const rows = [];
  for (let i = 0; i < dst; i++) {
    const start = i * step;
    const end = (i + 1) * step;
    const row = [];
    for (let j = Math.floor(start); j < Math.min(src, Math.ceil(end)); j++) {
      const overlap = Math.min(end, j + 1) - Math.max(start, j);
      if (overlap > 0) row.push([j, overlap / step]);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Turn a drawn digit into a grey picture of the model's field (28x28 for MNIST).
 *
 * @param {ArrayLike<number>} ink row-major intensities, bright ink on a dark background: 0..255 when
 *   `maxValue` is 255 (canvas alpha or a uint8 image), or already in [0, 1] when `maxValue` is 1.
 * @param {number} height rows of `ink`
 * @param {number} width columns of `ink`
 * @param {{height: number, width: number}} field the model's picture size (the contract's image)
 * @param {number} maxValue 255 or 1
 * @returns {Float32Array} field.height * field.width values in [0, 1]; all zeros when there is no ink.
 */
export function preprocessDigit(ink, height, width, field, maxValue = 255) {
  if (ink.length !== height * width) {
    throw new Error(`expected ${height}x${width} = ${height * width} pixels, got ${ink.length}`);
  }
  const out = new Float32Array(field.height * field.width);
  let top = height, bottom = -1, left = width, right = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (ink[y * width + x] > 0) {
        if (y < top) top = y;
        if (y > bottom) bottom = y;
        if (x < left) left = x;
        if (x > right) right = x;
      }
    }
  }
  if (bottom < 0) return out;

  const cropH = bottom - top + 1;
  const cropW = right - left + 1;
  const [newH, newW] = fittedSize(cropH, cropW, boxSide(field.height), boxSide(field.width));

  // Rows first, then columns: the order of the Python reference's matrix products.
  const rowWeights = areaWeights(cropH, newH);
  const colWeights = areaWeights(cropW, newW);
  const byRows = new Float64Array(newH * cropW);
  for (let i = 0; i < newH; i++) {
    for (const [j, w] of rowWeights[i]) {
      const srcRow = (top + j) * width + left;
      for (let x = 0; x < cropW; x++) byRows[i * cropW + x] += (w * ink[srcRow + x]) / maxValue;
    }
  }
  const fitted = new Float64Array(newH * newW);
  for (let i = 0; i < newH; i++) {
    for (let k = 0; k < newW; k++) {
      let sum = 0;
      for (const [x, w] of colWeights[k]) sum += byRows[i * cropW + x] * w;
      fitted[i * newW + k] = sum;
    }
  }

  let mass = 0, momentY = 0, momentX = 0;
  for (let i = 0; i < newH; i++) {
    for (let k = 0; k < newW; k++) {
      const v = fitted[i * newW + k];
      mass += v;
      momentY += v * i;
      momentX += v * k;
    }
  }
  const centreY = momentY / mass;
  const centreX = momentX / mass;
  const offsetY = Math.min(Math.max(Math.floor(field.height / 2 - centreY), 0), field.height - newH);
  const offsetX = Math.min(Math.max(Math.floor(field.width / 2 - centreX), 0), field.width - newW);
  for (let i = 0; i < newH; i++) {
    for (let k = 0; k < newW; k++) {
      out[(offsetY + i) * field.width + offsetX + k] = Math.min(Math.max(fitted[i * newW + k], 0), 1);
    }
  }
  return out;
}

/** The alpha channel of canvas RGBA pixels: the ink of strokes drawn on a transparent canvas. */
export function alphaChannel(rgba) {
  const alpha = new Uint8ClampedArray(rgba.length / 4);
  for (let i = 0; i < alpha.length; i++) alpha[i] = rgba[i * 4 + 3];
  return alpha;
}
