# Reference values for idjourney.indicator.stratified: the region-standardised journey curve
# U(t) = sum_r pi_r U_r(t), each U_r = 1 - F_1r the Aalen-Johansen cumulative incidence of
# identification (closure competing) of region r with left truncation and case weights,
# pi_r = N_r / sum_s N_s with N_r = sum over the region's rows of 1 / S_r(entry-) (S_r: the
# probability of still being open, state "(s0)"), and the cluster-robust variance from R's
# own IJ influence: per cluster V_c = sum_r pi_r * U_rc + sum_r (U_r - U) * dN_r/dw_c / N,
# with U_rc = -(rowsum(w * D_r, cluster)) the influence of the region's curve and
# dN_r/dw_c = sum_{i in c} 1/S_r(e_i-) - sum_i IF_c(S_r(e_i-)) / S_r(e_i-)^2 the influence of
# the truncation-corrected size (the estimated shares), var = sum V_c^2; the same for the RMST.
# (influence.pstate omits the case weight, so it is multiplied in, as tests/r/indicator_curve_aj.R.)
# Run from the repository root:  Rscript tests/r/stratified_mixture.R
# Writes the simulated input tests/data/r/stratified_input.csv (3 regions, series nested in
# regions, entry depending on the region, whole-day ties, weights >= 1 on some identified
# rows as the delay correction gives them) and tests/data/r/stratified_mixture.csv.
library(survival)
set.seed(20261201)
n_series <- 150
region_of <- sample(c("a", "b", "c"), n_series, replace = TRUE)
size <- sample(1:4, n_series, replace = TRUE)
d <- data.frame(cluster = rep(seq_len(n_series), size), region = rep(region_of, size))
n <- nrow(d)
d$id <- seq_len(n)
rate <- c(a = 1 / 300, b = 1 / 700, c = 1 / 1500)[d$region] * rep(rgamma(n_series, 2, 2), size)
t_id <- ceiling(rexp(n, rate))
t_close <- ceiling(rexp(n, 1 / 4000))
cens <- ceiling(runif(n, 200, 3000))
late <- c(a = 0, b = 200, c = 900)[d$region]
d$entry <- floor(rexp(n) * late) * (runif(n) < 0.6)
d$exit <- pmin(t_id, t_close, cens)
d$status <- ifelse(d$exit == t_id, 1, ifelse(d$exit == t_close, 2, 0))
d <- d[d$exit > d$entry, ]
d$weight <- ifelse(d$status == 1 & runif(nrow(d)) < 0.3, round(1 + runif(nrow(d)), 2), 1)
write.csv(d[, c("id", "cluster", "region", "entry", "exit", "status", "weight")],
          "tests/data/r/stratified_input.csv", row.names = FALSE)

d$state <- factor(d$status, levels = 0:2, labels = c("censor", "identified", "closed"))
times <- c(30, 365, 730, 1500)
fits <- list()
size_r <- c()
addv <- function(v, contrib) {  # add two named per-cluster vectors (union of the names)
  keys <- union(names(v), names(contrib))
  setNames(ifelse(is.na(v[keys]), 0, v[keys]) + ifelse(is.na(contrib[keys]), 0, contrib[keys]),
           keys)
}
for (r in sort(unique(d$region))) {
  dr <- d[d$region == r, ]
  fit <- survfit(Surv(entry, exit, state) ~ 1, data = dr, id = id, weights = weight,
                 influence = TRUE)
  k <- which(fit$states == "identified")
  s0 <- which(fit$states == "(s0)")
  open_before <- stepfun(fit$time, c(1, fit$pstate[, s0]), right = TRUE)  # S(e-)
  s_e <- open_before(dr$entry)
  size_r[r] <- sum(1 / s_e)
  # per-cluster influence of F_1(t) at each fit time (first column is time 0)
  g <- rowsum(fit$influence.pstate[, -1, k] * dr$weight, dr$cluster)
  # per-cluster influence of S(t) at time 0 and each fit time, and of N_r
  gs <- rowsum(fit$influence.pstate[, , s0] * dr$weight, dr$cluster)
  col <- 1 + sapply(dr$entry, function(e) sum(fit$time < e))  # column of S(e-)
  a <- tapply(1 / s_e^2, factor(col, levels = seq_len(ncol(gs))), sum)
  a[is.na(a)] <- 0
  count <- rowsum(1 / s_e, dr$cluster)[, 1]
  dn <- count[rownames(gs)] - as.vector(gs %*% a)
  names(dn) <- rownames(gs)
  fits[[r]] <- list(time = fit$time, cif = fit$pstate[, k], g = g, dn = dn)
}
pi_r <- size_r / sum(size_r)
n_all <- sum(size_r)
at <- function(f, t) { j <- findInterval(t, f$time); if (j == 0) 0 else f$cif[j] }
rmst_r <- function(f) {
  knots <- c(0, f$time[f$time < tau], tau)
  vals <- c(0, f$cif[f$time < tau])
  w <- diff(knots)
  list(value = sum(w * (1 - vals)),
       infl = -(f$g[, f$time < tau, drop = FALSE] %*% w[-1])[, 1])
}
tau <- 730
rows <- list()
for (t in times) {
  u_r <- sapply(names(fits), function(r) 1 - at(fits[[r]], t))
  u <- sum(pi_r[names(fits)] * u_r)
  v <- numeric(0)
  for (r in names(fits)) {
    f <- fits[[r]]
    j <- findInterval(t, f$time)
    gc <- if (j == 0) setNames(rep(0, nrow(f$g)), rownames(f$g)) else f$g[, j]
    v <- addv(v, -pi_r[[r]] * gc)
    v <- addv(v, (u_r[[r]] - u) * f$dn / n_all)
  }
  rows[[length(rows) + 1]] <- data.frame(quantity = "unidentified", time = t, value = u,
                                         se = sqrt(sum(v^2)))
}
rm_parts <- lapply(fits, rmst_r)
rm <- sum(sapply(names(fits), function(r) pi_r[[r]] * rm_parts[[r]]$value))
v <- numeric(0)
for (r in names(fits)) {
  v <- addv(v, pi_r[[r]] * rm_parts[[r]]$infl)
  v <- addv(v, (rm_parts[[r]]$value - rm) * fits[[r]]$dn / n_all)
}
rows[[length(rows) + 1]] <- data.frame(quantity = "rmst", time = tau, value = rm,
                                       se = sqrt(sum(v^2)))
grid <- sort(unique(unlist(lapply(fits, function(f) f$time))))
mix <- rep(0, length(grid))
for (r in names(fits)) mix <- mix + pi_r[r] * (1 - sapply(grid, function(t) at(fits[[r]], t)))
rows[[length(rows) + 1]] <- data.frame(quantity = "median", time = NA,
                                       value = grid[which(mix <= 0.5)[1]], se = NA)
for (r in names(fits)) {
  rows[[length(rows) + 1]] <- data.frame(quantity = paste0("share_", r), time = NA,
                                         value = pi_r[[r]], se = NA)
}
write.csv(do.call(rbind, rows), "tests/data/r/stratified_mixture.csv", row.names = FALSE)
cat(R.version.string, "survival", as.character(packageVersion("survival")), "\n")
