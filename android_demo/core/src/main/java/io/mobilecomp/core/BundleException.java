package io.mobilecomp.core;

/** A bundle the demo must refuse: missing files, malformed manifest, or a vocabulary hash mismatch. */
public final class BundleException extends Exception {
    private static final long serialVersionUID = 1L;

    public BundleException(String message) {
        super(message);
    }
}
