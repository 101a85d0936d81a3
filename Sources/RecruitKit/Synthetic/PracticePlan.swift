import Foundation

/// The practices of a synthetic extract: their codes and list sizes.
struct PracticePlan {
    struct Practice {
        /// ODS-style practice code (a letter and five digits), unique in the extract.
        var code: String
        /// CPRD GOLD practice number (1-999), the last three digits of every patid.
        var cprdNumber: Int
        var patients: Int
        /// Practice-level variation of pain, pain prescribing and fit notes (about ±10 %).
        var factor: Double
    }

    var practices: [Practice]

    /// Splits `patients` over `count` practices of varied size, or, without a
    /// count, over practices of realistic list sizes (a few thousand to about
    /// twenty thousand patients).
    init(patients: Int, count: Int?, seed: UInt64) {
        var rng = SyntheticRandom(seed: seed, stream: 0xC0DE)
        let F = SyntheticFigures.self
        var sizes: [Int] = []
        if let count {
            let weights = (0..<count).map { _ in exp(rng.normal(mean: 0, sd: 0.4)) }
            let total = weights.reduce(0, +)
            sizes = weights.map { max(1, Int(Double(patients) * $0 / total)) }
            // Hand out (or take back) the rounding difference, largest first.
            var difference = patients - sizes.reduce(0, +)
            var i = 0
            let order = sizes.indices.sorted { sizes[$0] > sizes[$1] }
            while difference != 0 {
                let j = order[i % order.count]
                if difference > 0 { sizes[j] += 1; difference -= 1 } else if sizes[j] > 1 { sizes[j] -= 1; difference += 1 }
                i += 1
            }
        } else {
            var remaining = patients
            while remaining > 0 {
                let drawn = Int(F.practiceMedianSize * exp(rng.normal(mean: 0, sd: F.practiceSizeSigma)))
                var size = min(max(drawn, F.practiceSizeRange.lowerBound), F.practiceSizeRange.upperBound)
                if remaining - size < F.practiceSizeRange.lowerBound { size = remaining }
                sizes.append(min(size, remaining))
                remaining -= sizes.last!
            }
        }
        var codes = Set<String>()
        var numbers = Array(1...999)
        for i in stride(from: numbers.count - 1, to: 0, by: -1) { numbers.swapAt(i, rng.below(i + 1)) }
        let letters = Array("ABCDEFGHJKLMNPY")
        practices = []
        for (i, size) in sizes.enumerated() {
            var code: String
            repeat {
                code = "\(letters[rng.below(letters.count)])\(81_000 + rng.below(18_000))"
            } while !codes.insert(code).inserted
            let factor = exp(rng.normal(mean: 0, sd: 0.07))
            practices.append(Practice(code: code, cprdNumber: numbers[i % numbers.count], patients: size, factor: factor))
        }
    }
}
