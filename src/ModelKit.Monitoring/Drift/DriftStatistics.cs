using MathNet.Numerics;
using ModelKit.Monitoring.Sketches;

namespace ModelKit.Monitoring.Drift;

/// <summary>
/// The drift metrics, each comparing a current window with the reference. Pure functions, thread-safe.
/// </summary>
public static class DriftStatistics
{
    /// <summary>The proportion that replaces an empty bin in <see cref="PopulationStabilityIndex"/> and <see cref="JensenShannonDistance"/>: 0.0001, as Evidently does.</summary>
    public const double EmptyBinProportion = 1e-4;

    /// <summary>
    /// Population stability index, <c>Σ (c_i − r_i) · ln(c_i / r_i)</c> over bins with proportions <c>r</c> (reference)
    /// and <c>c</c> (current); an empty bin counts as <see cref="EmptyBinProportion"/>. Conventions (Siddiqi, "Credit
    /// Risk Scorecards", 2006; also NannyML and Evidently): below 0.1 no significant change, 0.1–0.25 moderate, 0.25 or
    /// more significant.
    /// </summary>
    /// <param name="reference">Reference counts per bin.</param>
    /// <param name="current">Current counts per bin, the same bins.</param>
    /// <returns>The index, 0 or more; NaN when either side is empty.</returns>
    /// <exception cref="ArgumentException">The bin counts differ in length.</exception>
    public static double PopulationStabilityIndex(ReadOnlySpan<long> reference, ReadOnlySpan<long> current)
    {
        CheckSameLength(reference, current);
        double rTotal = Sum(reference);
        double cTotal = Sum(current);
        if (rTotal == 0 || cTotal == 0)
        {
            return double.NaN;
        }

        double psi = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double r = Math.Max(reference[i] / rTotal, EmptyBinProportion);
            double c = Math.Max(current[i] / cTotal, EmptyBinProportion);
            psi += (c - r) * Math.Log(c / r);
        }

        return psi;
    }

    /// <summary>
    /// Jensen–Shannon distance between two binned distributions: the square root of the Jensen–Shannon divergence with
    /// base-2 logarithms, so it lies in [0, 1] (Endres and Schindelin, "A new metric for probability distributions",
    /// 2003). Note: SciPy's <c>jensenshannon</c> and Evidently use the natural logarithm by default, whose distance is
    /// this one times √(ln 2) ≈ 0.833.
    /// </summary>
    /// <param name="reference">Reference counts per bin.</param>
    /// <param name="current">Current counts per bin, the same bins.</param>
    /// <returns>The distance in [0, 1]; NaN when either side is empty.</returns>
    /// <exception cref="ArgumentException">The bin counts differ in length.</exception>
    public static double JensenShannonDistance(ReadOnlySpan<long> reference, ReadOnlySpan<long> current)
    {
        CheckSameLength(reference, current);
        double rTotal = Sum(reference);
        double cTotal = Sum(current);
        if (rTotal == 0 || cTotal == 0)
        {
            return double.NaN;
        }

        double divergence = 0;
        for (int i = 0; i < reference.Length; i++)
        {
            double p = reference[i] / rTotal;
            double q = current[i] / cTotal;
            double m = (p + q) / 2;
            if (p > 0)
            {
                divergence += 0.5 * p * Math.Log2(p / m);
            }

            if (q > 0)
            {
                divergence += 0.5 * q * Math.Log2(q / m);
            }
        }

        return Math.Sqrt(Math.Max(0, divergence));
    }

    /// <summary>
    /// Two-sample Kolmogorov–Smirnov statistic <c>D = sup |F_ref(x) − F_cur(x)|</c> over the two step CDFs, evaluated at
    /// every retained value of either side (exact when both sketches are exact, otherwise within the sum of their rank
    /// errors), with the asymptotic p-value of <see cref="KolmogorovSmirnovPValue"/>.
    /// </summary>
    /// <param name="reference">The reference's sorted view.</param>
    /// <param name="current">The current window's sorted view.</param>
    /// <returns>D in [0, 1] and its p-value; both NaN when either side is empty.</returns>
    public static (double Statistic, double PValue) KolmogorovSmirnov(KllSketch.SortedView reference, KllSketch.SortedView current)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        if (reference.Count == 0 || current.Count == 0)
        {
            return (double.NaN, double.NaN);
        }

        double d = 0;
        int i = 0;
        int j = 0;
        double[] a = reference.Values;
        double[] b = current.Values;
        while (i < a.Length || j < b.Length)
        {
            double x = j >= b.Length || (i < a.Length && a[i] <= b[j]) ? a[i] : b[j];
            while (i < a.Length && a[i] <= x)
            {
                i++;
            }

            while (j < b.Length && b[j] <= x)
            {
                j++;
            }

            double fa = i == 0 ? 0 : (double)reference.CumulativeWeights[i - 1] / reference.Count;
            double fb = j == 0 ? 0 : (double)current.CumulativeWeights[j - 1] / current.Count;
            d = Math.Max(d, Math.Abs(fa - fb));
        }

        return (d, KolmogorovSmirnovPValue(d, reference.Count, current.Count));
    }

    /// <summary>
    /// Asymptotic p-value of the two-sample Kolmogorov–Smirnov statistic: <c>Q_KS((√Ne + 0.12 + 0.11/√Ne) · D)</c> with
    /// <c>Ne = n·m/(n+m)</c> (Stephens' correction; Press et al., "Numerical Recipes", 3rd ed., §14.3.3), where
    /// <c>Q_KS(λ) = 2 Σ_{j≥1} (−1)^{j−1} e^{−2j²λ²}</c>, summed in its dual form for small λ.
    /// </summary>
    /// <param name="statistic">D in [0, 1].</param>
    /// <param name="n">Size of the first sample.</param>
    /// <param name="m">Size of the second sample.</param>
    /// <returns>The p-value in [0, 1].</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size is not positive, or the statistic is outside [0, 1].</exception>
    public static double KolmogorovSmirnovPValue(double statistic, long n, long m)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(n, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(m, 1);
        if (!(statistic >= 0 && statistic <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(statistic), statistic, "The Kolmogorov–Smirnov statistic lies in [0, 1].");
        }

        double ne = (double)n * m / (n + m);
        double sqrtNe = Math.Sqrt(ne);
        return KolmogorovQ((sqrtNe + 0.12 + (0.11 / sqrtNe)) * statistic);
    }

    /// <summary>The Kolmogorov distribution's complementary CDF <c>Q_KS(λ)</c>.</summary>
    /// <param name="lambda">λ, 0 or more.</param>
    /// <returns>Q_KS(λ) in [0, 1].</returns>
    public static double KolmogorovQ(double lambda)
    {
        if (lambda <= 0)
        {
            return 1;
        }

        if (lambda < 1.18)
        {
            // P_KS(λ) = √(2π)/λ Σ_{j≥1} exp(−(2j−1)²π²/(8λ²)).
            double y = Math.Exp(-(Math.PI * Math.PI) / (8 * lambda * lambda));
            double sum = 0;
            for (int j = 1; j <= 50; j++)
            {
                double term = Math.Pow(y, (2 * j - 1) * (2 * j - 1));
                sum += term;
                if (term < 1e-17 * sum)
                {
                    break;
                }
            }

            return Math.Clamp(1 - (Math.Sqrt(2 * Math.PI) / lambda * sum), 0, 1);
        }

        double q = 0;
        for (int j = 1; j <= 100; j++)
        {
            double term = Math.Exp(-2.0 * j * j * lambda * lambda);
            q += (j % 2 == 1 ? 2 : -2) * term;
            if (term < 1e-300)
            {
                break;
            }
        }

        return Math.Clamp(q, 0, 1);
    }

    /// <summary>
    /// Wasserstein-1 (earth mover's) distance between the two step CDFs, <c>∫ |F_ref(x) − F_cur(x)| dx</c>, divided by
    /// the reference's standard deviation so that it has no unit (Evidently's <c>wasserstein</c> method; its default
    /// threshold is 0.1, i.e. a shift of a tenth of a standard deviation).
    /// </summary>
    /// <param name="reference">The reference's sorted view.</param>
    /// <param name="current">The current window's sorted view.</param>
    /// <param name="referenceStandardDeviation">The reference's standard deviation; when 0 or not finite the raw distance is returned.</param>
    /// <returns>The normalised distance, 0 or more; NaN when either side is empty.</returns>
    public static double NormalizedWasserstein(KllSketch.SortedView reference, KllSketch.SortedView current, double referenceStandardDeviation)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        if (reference.Count == 0 || current.Count == 0)
        {
            return double.NaN;
        }

        double area = 0;
        int i = 0;
        int j = 0;
        double[] a = reference.Values;
        double[] b = current.Values;
        double previous = double.NaN;
        double gap = 0;
        while (i < a.Length || j < b.Length)
        {
            double x = j >= b.Length || (i < a.Length && a[i] <= b[j]) ? a[i] : b[j];
            if (!double.IsNaN(previous))
            {
                area += gap * (x - previous);
            }

            while (i < a.Length && a[i] <= x)
            {
                i++;
            }

            while (j < b.Length && b[j] <= x)
            {
                j++;
            }

            double fa = i == 0 ? 0 : (double)reference.CumulativeWeights[i - 1] / reference.Count;
            double fb = j == 0 ? 0 : (double)current.CumulativeWeights[j - 1] / current.Count;
            gap = Math.Abs(fa - fb);
            previous = x;
        }

        return referenceStandardDeviation > 0 && double.IsFinite(referenceStandardDeviation) ? area / referenceStandardDeviation : area;
    }

    /// <summary>
    /// Pearson's chi-squared goodness-of-fit test of the current category counts against the reference proportions.
    /// Every category seen on either side takes part; the reference proportions are smoothed with half a count per
    /// category (Jeffreys' prior) so that a category the reference never saw gives a large, finite statistic. The
    /// p-value is the regularised upper incomplete gamma function Q(df/2, χ²/2) (MathNet.Numerics).
    /// </summary>
    /// <param name="reference">Reference counts per category.</param>
    /// <param name="current">Current counts per category.</param>
    /// <returns>χ², its degrees of freedom (categories − 1) and p-value; NaN when either side is empty or only one category exists.</returns>
    public static (double Statistic, int DegreesOfFreedom, double PValue) ChiSquared(IReadOnlyDictionary<long, long> reference, IReadOnlyDictionary<long, long> current)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ArgumentNullException.ThrowIfNull(current);
        var categories = new SortedSet<long>(reference.Keys);
        categories.UnionWith(current.Keys);
        double rTotal = 0;
        double cTotal = 0;
        foreach (long c in categories)
        {
            rTotal += reference.GetValueOrDefault(c) + 0.5;
            cTotal += current.GetValueOrDefault(c);
        }

        if (categories.Count < 2 || cTotal == 0 || rTotal == categories.Count * 0.5)
        {
            return (double.NaN, 0, double.NaN);
        }

        double chi2 = 0;
        foreach (long c in categories)
        {
            double expected = (reference.GetValueOrDefault(c) + 0.5) / rTotal * cTotal;
            double diff = current.GetValueOrDefault(c) - expected;
            chi2 += diff * diff / expected;
        }

        int df = categories.Count - 1;
        return (chi2, df, SpecialFunctions.GammaUpperRegularized(df / 2.0, chi2 / 2));
    }

    private static double Sum(ReadOnlySpan<long> counts)
    {
        double total = 0;
        foreach (long c in counts)
        {
            total += c;
        }

        return total;
    }

    private static void CheckSameLength(ReadOnlySpan<long> reference, ReadOnlySpan<long> current)
    {
        if (reference.Length != current.Length)
        {
            throw new ArgumentException($"The reference has {reference.Length} bins but the current window has {current.Length}; bin both with the reference's edges.");
        }
    }
}
