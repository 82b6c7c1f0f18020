/**
 * A child process for the kill test of store.test.ts: opens a label file with LabelStore and
 * rewrites it again and again, every row labelled `v<round>` in round `round`, printing
 * `wrote <round>` after each save, until it is killed.
 *
 * In `halt` mode each save goes through writeFileAtomic in 64 KiB chunks and, from round 2 on,
 * stops after half of them, printing `halfway <round>`: the parent kills it there, so the kill
 * lands inside a write for certain. In `free` mode the store saves as it does in the labeller.
 *
 * Usage: node --conditions=source --import tsx test/label/store-writer.ts <file> <rows> <halt|free>
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { LabelStore } from '@cnn/experiment/label';
import { writeFileAtomic } from '@cnn/experiment/report';
import { storeRow } from './store-rows.js';

const [file, rowsText, mode] = process.argv.slice(2);
const rows = Number(rowsText);
let round = 0;

async function* halting(text: string): AsyncGenerator<string> {
  const size = 64 << 10;
  const chunks = Math.ceil(text.length / size);
  for (let i = 0; i < chunks; i++) {
    if (round >= 2 && i === Math.floor(chunks / 2)) {
      process.stdout.write(`halfway ${round}\n`);
      await sleep(60_000);
    }
    yield text.slice(i * size, (i + 1) * size);
  }
}

const store = await LabelStore.open(file!, mode === 'halt' ? { write: (target, text) => writeFileAtomic(target, halting(text)) } : {});
for (round = 1; ; round++) {
  let saved: Promise<void> = Promise.resolve();
  // All rows change before the first save starts, so each round is one complete file.
  for (let i = 0; i < rows; i++) saved = store.set(storeRow(i, `v${round}`));
  await saved;
  process.stdout.write(`wrote ${round}\n`);
}
