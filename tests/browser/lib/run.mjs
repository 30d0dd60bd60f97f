// The end of a proof script: main() resolves with the exit code; the whole run is cut at a deadline.

/** Runs main() and exits with its code; after timeoutS seconds, onTimeout() prints why and the run exits 1. */
export function runBounded(main, timeoutS, onTimeout) {
  const overall = setTimeout(() => {
    onTimeout();
    process.exit(1);
  }, timeoutS * 1000);
  main().then((code) => {
    clearTimeout(overall);
    process.exitCode = code;
    // node-signalr or a half-closed socket may hold the loop open; everything the run owns is closed by now.
    setTimeout(() => process.exit(code), 200).unref();
  });
}
