package io.mobilecomp.core;

/**
 * A tokenizer.json (or tokenizer_config.json) that names a component or setting this core does
 * not implement. The message is one line naming it, the same line Python's
 * {@code mobilecomp tokenizer-vectors} prints for the same file.
 */
public final class UnsupportedTokenizerException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public UnsupportedTokenizerException(String message) {
        super(message);
    }

    /** "{@code what} '{@code type}' is not implemented by the Android core (it implements: ...)". */
    static UnsupportedTokenizerException component(String what, String type, String[] implemented) {
        StringBuilder list = new StringBuilder();
        for (String name : implemented) {
            list.append(list.length() == 0 ? "" : ", ").append(name);
        }
        return new UnsupportedTokenizerException(what + " '" + type + "' is not implemented by the Android core (it implements: "
                + list + ")");
    }

    /** "{@code what} '{@code type}' with {@code setting} is not implemented by the Android core". */
    static UnsupportedTokenizerException setting(String what, String type, String setting) {
        return new UnsupportedTokenizerException(what + " '" + type + "' with " + setting
                + " is not implemented by the Android core");
    }
}
