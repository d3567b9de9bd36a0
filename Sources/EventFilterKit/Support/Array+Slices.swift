/// An array cut into consecutive slices of at most `size` elements, for statements that take a
/// bounded number of rows or bound values each.
///
///     for rows in accepted.slices(of: 300) { try insert(rows) }
extension Array {
    func slices(of size: Int) -> [ArraySlice<Element>] {
        precondition(size > 0, "a slice holds at least one element")
        return stride(from: 0, to: count, by: size).map { self[$0..<Swift.min($0 + size, count)] }
    }
}
