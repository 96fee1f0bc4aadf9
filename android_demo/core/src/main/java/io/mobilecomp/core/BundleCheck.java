package io.mobilecomp.core;

import java.io.File;

/**
 * {@code java io.mobilecomp.core.BundleCheck BUNDLE...}: opens each bundle as the app does and
 * prints one line for each, "ok: KIND tokenizer, N artefacts" or "refused: " and the reason;
 * exit status 1 when any was refused.
 */
public final class BundleCheck {
    private BundleCheck() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length == 0) {
            System.err.println("usage: BundleCheck BUNDLE...");
            System.exit(2);
        }
        int refused = 0;
        for (String arg : args) {
            try {
                BundleInfo bundle = BundleInfo.open(new File(arg));
                System.out.println("ok: " + bundle.tokenizerKind + " tokenizer, " + bundle.artefacts.size() + " artefacts");
            } catch (BundleException ex) {
                System.out.println("refused: " + ex.getMessage());
                refused++;
            }
        }
        System.exit(refused == 0 ? 0 : 1);
    }
}
