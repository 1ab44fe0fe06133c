// Reading an edgekit TF.js artifact from a directory in Node: shared by the evaluation and benchmark runners.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** A TF.js IO handler reading model.json and its weight shards from a directory. */
export function fileHandler(tf, directory, modelFile) {
  return {
    load: async () => {
      const modelJSON = JSON.parse(readFileSync(join(directory, modelFile), 'utf8'));
      return tf.io.getModelArtifactsForJSON(modelJSON, async (manifest) => {
        const specs = [];
        const buffers = [];
        for (const group of manifest) {
          specs.push(...group.weights);
          for (const shard of group.paths) buffers.push(readFileSync(join(directory, shard)));
        }
        const joined = Buffer.concat(buffers);
        return [specs, joined.buffer.slice(joined.byteOffset, joined.byteOffset + joined.byteLength)];
      });
    },
  };
}

