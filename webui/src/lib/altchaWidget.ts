/**
 * The ALTCHA widget (`<altcha-widget>`), loaded only by a page whose queue asks for proof
 * of work (QueueProof imports this module lazily). The `external` build, its stylesheet
 * and its workers as files of our own: the pages' Content-Security-Policy allows scripts,
 * styles and workers from this origin only, not the blob: workers and injected styles of
 * the package's default build. The hash algorithms of ALTCHA's v1 and v2 challenges;
 * not the memory-hard ones (Argon2id, scrypt), whose workers weigh 45 kB each.
 */
import 'altcha/external';
import 'altcha/altcha.css';
import Pbkdf2Worker from 'altcha/workers/pbkdf2?worker';
import ShaWorker from 'altcha/workers/sha?worker';

for (const algorithm of ['SHA-256', 'SHA-384', 'SHA-512']) {
  globalThis.$altcha.algorithms.set(algorithm, () => new ShaWorker());
}
for (const algorithm of ['PBKDF2/SHA-256', 'PBKDF2/SHA-384', 'PBKDF2/SHA-512']) {
  globalThis.$altcha.algorithms.set(algorithm, () => new Pbkdf2Worker());
}
