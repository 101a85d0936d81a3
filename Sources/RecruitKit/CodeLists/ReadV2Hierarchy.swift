/// The Read v2 hierarchy, read from the codes themselves.
///
/// A Read v2 code's level is its number of significant characters (the
/// characters before its dot padding): `N24..` is level 3, `N245.` level 4.
/// The children of `N24..` are the codes beginning `N24` with exactly one more
/// significant character (`N240.` … `N24z.`); its descendants are every code
/// whose significant prefix starts with `N24` and is longer.
public enum ReadV2Hierarchy {
    /// The code without its dot padding: `N24..` → `N24`.
    public static func significantPrefix(_ code: String) -> Substring {
        var s = Substring(code)
        while s.last == "." { s = s.dropLast() }
        return s
    }

    /// Whether `code` is a descendant of `ancestor` (never of itself).
    public static func isDescendant(_ code: String, of ancestor: String) -> Bool {
        let a = significantPrefix(ancestor), c = significantPrefix(code)
        return c.count > a.count && c.hasPrefix(a)
    }

    /// Whether `code` is `ancestor` itself or one of its descendants.
    public static func isSelfOrDescendant(_ code: String, of ancestor: String) -> Bool {
        code == ancestor || isDescendant(code, of: ancestor)
    }

    /// Whether `code` is a child (one level below) of `parent`.
    public static func isChild(_ code: String, of parent: String) -> Bool {
        let a = significantPrefix(parent), c = significantPrefix(code)
        return c.count == a.count + 1 && c.hasPrefix(a)
    }

    /// The children of `parent` among `codes`, sorted by bytes.
    public static func children<S: Sequence>(of parent: String, in codes: S) -> [String] where S.Element == String {
        codes.filter { isChild($0, of: parent) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// The descendants of `ancestor` among `codes`, sorted by bytes.
    public static func descendants<S: Sequence>(of ancestor: String, in codes: S) -> [String] where S.Element == String {
        codes.filter { isDescendant($0, of: ancestor) }.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }
}
