package io.mobilecomp.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Where the special tokens go and which token type each id gets, from tokenizer.json's
 * "post_processor": TemplateProcessing ($A, $B and special tokens with type ids), RobertaProcessing
 * ({@code <s> A </s></s> B </s>}, all type 0), BertProcessing ({@code [CLS] A [SEP] B [SEP]}),
 * ByteLevel (offsets only: no ids) and a Sequence of those. No post_processor adds nothing.
 */
final class PostProcessor {

    static final String[] IMPLEMENTED = {"BertProcessing", "ByteLevel", "RobertaProcessing", "Sequence",
        "TemplateProcessing"};

    /** One template piece: a sequence (A or B) or special ids, with a type id. */
    private static final class Piece {
        final int sequence; // 0 = A, 1 = B, -1 = special ids
        final int[] ids;
        final int typeId;

        Piece(int sequence, int[] ids, int typeId) {
            this.sequence = sequence;
            this.ids = ids;
            this.typeId = typeId;
        }
    }

    private final List<Piece> single;
    private final List<Piece> pair;
    /** RobertaProcessing gives every id type 0, whatever the pieces say. */
    private final boolean allTypeZero;

    private PostProcessor(List<Piece> single, List<Piece> pair, boolean allTypeZero) {
        this.single = single;
        this.pair = pair;
        this.allTypeZero = allTypeZero;
    }

    static PostProcessor parse(Map<String, Object> spec) {
        List<Piece> single = new ArrayList<Piece>();
        List<Piece> pair = new ArrayList<Piece>();
        single.add(new Piece(0, null, 0));
        pair.add(new Piece(0, null, 0));
        pair.add(new Piece(1, null, 1));
        PostProcessor plain = new PostProcessor(single, pair, false);
        return spec == null ? plain : parse(spec, plain);
    }

    private static PostProcessor parse(Map<String, Object> spec, PostProcessor previous) {
        String type = TokenizerJson.type(spec, "post_processor");
        if (type.equals("ByteLevel")) {
            return previous;
        }
        if (type.equals("Sequence")) {
            PostProcessor current = previous;
            int templates = 0;
            for (Object step : TokenizerJson.list(spec.get("processors"), "processors")) {
                Map<String, Object> stepSpec = TokenizerJson.map(step, "a post_processor");
                if (!TokenizerJson.type(stepSpec, "post_processor").equals("ByteLevel") && ++templates > 1) {
                    throw UnsupportedTokenizerException.setting("post_processor", "Sequence", "more than one template");
                }
                current = parse(stepSpec, current);
            }
            return current;
        }
        if (type.equals("RobertaProcessing") || type.equals("BertProcessing")) {
            int[] cls = {special(spec, "cls")};
            int[] sep = {special(spec, "sep")};
            boolean roberta = type.equals("RobertaProcessing");
            List<Piece> single = new ArrayList<Piece>();
            single.add(new Piece(-1, cls, 0));
            single.add(new Piece(0, null, 0));
            single.add(new Piece(-1, sep, 0));
            List<Piece> pair = new ArrayList<Piece>(single);
            if (roberta) {
                pair.add(new Piece(-1, sep, 0));
            }
            pair.add(new Piece(1, null, 1));
            pair.add(new Piece(-1, sep, 1));
            return new PostProcessor(single, pair, roberta);
        }
        if (type.equals("TemplateProcessing")) {
            Map<String, Object> specials = TokenizerJson.map(spec.get("special_tokens"), "TemplateProcessing's special_tokens");
            return new PostProcessor(template(spec.get("single"), specials), template(spec.get("pair"), specials), false);
        }
        throw UnsupportedTokenizerException.component("post_processor", type, IMPLEMENTED);
    }

    /** The id of RobertaProcessing's or BertProcessing's ["token", id] field. */
    private static int special(Map<String, Object> spec, String key) {
        List<?> value = TokenizerJson.list(spec.get(key), "post_processor's " + key);
        if (value.size() != 2 || !(value.get(1) instanceof Long)) {
            throw new IllegalArgumentException("post_processor's " + key + " is not [token, id]");
        }
        return ((Long) value.get(1)).intValue();
    }

    private static List<Piece> template(Object raw, Map<String, Object> specials) {
        List<Piece> pieces = new ArrayList<Piece>();
        for (Object item : TokenizerJson.list(raw, "a template")) {
            Map<String, Object> piece = TokenizerJson.map(item, "a template piece");
            if (piece.get("Sequence") != null) {
                Map<String, Object> seq = TokenizerJson.map(piece.get("Sequence"), "a template Sequence");
                String id = TokenizerJson.str(seq, "id", "A");
                pieces.add(new Piece(id.equals("A") ? 0 : 1, null, (int) TokenizerJson.integer(seq, "type_id")));
            } else {
                Map<String, Object> tok = TokenizerJson.map(piece.get("SpecialToken"), "a template SpecialToken");
                String name = TokenizerJson.str(tok, "id", "");
                Map<String, Object> entry = TokenizerJson.map(specials.get(name), "special token " + name);
                List<?> ids = TokenizerJson.list(entry.get("ids"), "special token " + name + "'s ids");
                int[] values = new int[ids.size()];
                for (int i = 0; i < values.length; i++) {
                    values[i] = (int) TokenizerJson.number(ids.get(i), "special token " + name + "'s id");
                }
                pieces.add(new Piece(-1, values, (int) TokenizerJson.integer(tok, "type_id")));
            }
        }
        return pieces;
    }

    /** How many ids the template adds around one sequence or a pair. */
    int added(boolean isPair) {
        int n = 0;
        for (Piece p : isPair ? pair : single) {
            n += p.sequence < 0 ? p.ids.length : 0;
        }
        return n;
    }

    private static int[] source(Piece p, int[] a, int[] b) {
        return p.sequence < 0 ? p.ids : p.sequence == 0 ? a : b == null ? new int[0] : b;
    }

    /** The template filled with {@code a} (and {@code b} when a pair): {ids, type ids}. */
    int[][] apply(int[] a, int[] b) {
        List<Piece> template = b == null ? single : pair;
        int n = 0;
        for (Piece p : template) {
            n += source(p, a, b).length;
        }
        int[] ids = new int[n];
        int[] types = new int[n];
        int k = 0;
        for (Piece p : template) {
            for (int id : source(p, a, b)) {
                ids[k] = id;
                types[k] = allTypeZero ? 0 : p.typeId;
                k++;
            }
        }
        return new int[][] {ids, types};
    }
}
