# Reference values for idjourney.survival.tsai (Tsai 1990 quasi-independence test).
# An independent base-R implementation by explicit double loops over subjects:
#   K = sum over events i of sum over j in R_i of sign(e_j - e_i),  R_i = {j : e_j < x_i <= x_j}
#   Var(S_i) = mean over k in R_i of (sum over j in R_i of sign(e_j - e_k))^2  (exact with ties)
#   z = K / sqrt(sum Var(S_i)),  p = 2 * pnorm(-|z|),  tau = K / sum(r_i - 1)
# Run from the repository root:  Rscript tests/r/tsai.R   (writes tests/data/r/tsai.csv)
tsai <- function(x, d, e) {
  K <- 0; V <- 0; pairs <- 0
  for (i in seq_along(x)) {
    if (d[i] != 1) next
    R <- which(e < x[i] & x >= x[i])
    r <- length(R)
    K <- K + sum(sign(e[R] - e[i]))
    s <- sapply(R, function(k) sum(sign(e[R] - e[k])))
    V <- V + mean(s^2)
    pairs <- pairs + r - 1
  }
  z <- K / sqrt(V)
  c(statistic = K, variance = V, z = z, p_value = 2 * pnorm(-abs(z)), tau = K / pairs)
}
out <- list()
# 1. the hand-computed example of tests/test_tsai.py
out[["hand"]] <- tsai(c(3, 4, 5, 6), c(1, 1, 0, 1), c(0, 1, 2, 0))
# 2. independent truncation (quasi-independent), integer days with ties, censoring
set.seed(20260101)
n <- 400
t <- ceiling(rexp(n, 1 / 300)); e <- floor(runif(n, 0, 400)); c <- ceiling(runif(n, 1, 1500))
keep <- t > e
x <- pmin(t, e + c)[keep]; d <- as.integer(t <= e + c)[keep]; e1 <- e[keep]
x <- pmax(x, e1 + 1)
write.csv(data.frame(duration = x, event = d, entry = e1), "tests/data/r/tsai_independent_data.csv",
          row.names = FALSE)
out[["independent"]] <- tsai(x, d, e1)
# 3. dependent truncation: entry grows with the event time
t <- ceiling(rexp(n, 1 / 300)); e <- floor(rexp(n) * 0.6 * t)
keep <- t > e
x <- t[keep]; d <- rep(1L, sum(keep)); e2 <- e[keep]
write.csv(data.frame(duration = x, event = d, entry = e2), "tests/data/r/tsai_dependent_data.csv",
          row.names = FALSE)
out[["dependent"]] <- tsai(x, d, e2)
res <- data.frame(case = names(out), do.call(rbind, out), row.names = NULL)
write.csv(res, "tests/data/r/tsai.csv", row.names = FALSE)
print(res, digits = 12)
