/// Comparison whose running time does not depend on where two secrets differ.
public enum ConstantTime {
    /// Whether `a` equals `b`. Every byte of the longer input is visited whatever the contents,
    /// so timing reveals at most the lengths.
    public static func equals(_ a: some Collection<UInt8>, _ b: some Collection<UInt8>) -> Bool {
        let left = Array(a)
        let right = Array(b)
        let count = max(left.count, right.count)
        var difference = UInt64(left.count ^ right.count)
        for index in 0..<count {
            let x = index < left.count ? left[index] : 0
            let y = index < right.count ? right[index] : 0
            difference |= UInt64(x ^ y)
        }
        return difference == 0
    }
}
