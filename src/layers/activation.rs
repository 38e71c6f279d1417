//! Element-wise activations: ReLU, LeakyReLU, Sigmoid, Tanh.

use crate::engine::Float;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Activation {
    Relu,
    LeakyRelu(f64),
    Sigmoid,
    Tanh,
}

impl Activation {
    pub fn forward<T: Float>(&self, x: &[T], y: &mut [T]) {
        match *self {
            Activation::Relu => y.iter_mut().zip(x).for_each(|(y, &x)| *y = relu(x)),
            Activation::LeakyRelu(slope) => {
                let a = T::from_f64(slope);
                y.iter_mut().zip(x).for_each(|(y, &x)| *y = if x > T::ZERO { x } else { x * a })
            }
            Activation::Sigmoid => y.iter_mut().zip(x).for_each(|(y, &x)| *y = sigmoid(x)),
            Activation::Tanh => y.iter_mut().zip(x).for_each(|(y, &x)| *y = x.tanh()),
        }
    }

    /// `x` is the layer's input and `y` its output; each activation uses whichever is cheaper.
    pub fn backward<T: Float>(&self, x: &[T], y: &[T], dy: &[T], dx: &mut [T]) {
        let it = dx.iter_mut().zip(dy).zip(x.iter().zip(y));
        match *self {
            // `x ≤ 0` rather than `!(x > 0)`: at NaN the gradient passes, as in PyTorch.
            Activation::Relu => it.for_each(|((d, &g), (&x, _))| *d = if x <= T::ZERO { T::ZERO } else { g }),
            Activation::LeakyRelu(slope) => {
                let a = T::from_f64(slope);
                it.for_each(|((d, &g), (&x, _))| *d = if x > T::ZERO { g } else { g * a })
            }
            Activation::Sigmoid => it.for_each(|((d, &g), (_, &y))| *d = g * y * (T::ONE - y)),
            Activation::Tanh => it.for_each(|((d, &g), (_, &y))| *d = g * (T::ONE - y * y)),
        }
    }
}

/// As PyTorch's: NaN stays NaN (`x > 0` alone would turn it into 0 and hide it).
#[inline(always)]
pub fn relu<T: Float>(x: T) -> T {
    if x <= T::ZERO {
        T::ZERO
    } else {
        x
    }
}

/// The logistic function, written so neither branch overflows.
pub fn sigmoid<T: Float>(x: T) -> T {
    if x >= T::ZERO {
        T::ONE / (T::ONE + (-x).exp())
    } else {
        let e = x.exp();
        e / (T::ONE + e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_keeps_nan_as_pytorch_does() {
        let x = [f32::NAN, -1.0, 0.0, 2.0];
        let mut y = [0.0; 4];
        Activation::Relu.forward(&x, &mut y);
        assert!(y[0].is_nan());
        assert_eq!(&y[1..], &[0.0, 0.0, 2.0]);
    }
}
