//! PyTorch's CPU default generator after `torch.manual_seed(S)`, and the default
//! initialisation of `nn.Conv1d`/`nn.Conv2d`/`nn.Linear`, reproduced bit for bit.
//!
//! `at::CPUGeneratorImpl` wraps `at::mt19937`, seeded with the classic `init_genrand`
//! recurrence on the low 32 bits of the seed. `random()` is one tempered 32-bit word and
//! `random64()` is two words, the first one being the high half.

use super::mt19937::Mt19937;

/// PyTorch's CPU generator (`torch.default_generator`) state.
#[derive(Clone)]
pub struct TorchGenerator {
    mt: Mt19937,
}

impl TorchGenerator {
    /// `torch.manual_seed(seed)`: `at::mt19937(seed)` uses `init_with_uint32`, so only the
    /// low 32 bits of the seed matter.
    pub fn manual_seed(seed: u64) -> Self {
        TorchGenerator { mt: Mt19937::new((seed & 0xffff_ffff) as u32) }
    }

    /// `generator->random()`: one tempered 32-bit MT19937 word.
    pub fn random(&mut self) -> u32 {
        self.mt.next_u32()
    }

    /// `generator->random64()`: two words, the first is the high half.
    pub fn random64(&mut self) -> u64 {
        self.mt.next_u64()
    }

    /// `tensor.uniform_(from, to)` on a contiguous float32 CPU tensor.
    ///
    /// The CPU kernel runs serially in element order (`cpu_serial_kernel`). For float,
    /// `uniform_real_distribution<float>` takes one 32-bit word, keeps its low 24 bits
    /// (`digits` of float), scales by 2^-24, and computes `x * (to - from) + from` entirely
    /// in float, with `from`/`to` first cast from double to float. PyTorch's CPU kernels are
    /// built per ISA and the AVX2/AVX-512 build contracts `x * range + from` into a fused
    /// multiply-add: the fixtures match `fma` bit for bit, and separate rounding is off by
    /// one ulp on some elements.
    fn uniform_f32(&mut self, from: f64, to: f64, out: &mut [f32]) {
        let from = from as f32;
        let to = to as f32;
        let range = to - from;
        for o in out {
            let x = (self.random() & 0x00ff_ffff) as f32 * (1.0 / 16_777_216.0);
            *o = x.mul_add(range, from);
        }
    }

    /// `reset_parameters()` of `nn.Conv1d`/`nn.Conv2d`/`nn.Linear`: weight first, then bias.
    ///
    /// `kaiming_uniform_(w, a=sqrt(5))` computes, in Python floats,
    /// `gain = sqrt(2 / (1 + a**2))`, `std = gain / sqrt(fan_in)`, `bound = sqrt(3) * std`
    /// and calls `uniform_(-bound, bound)`; the bias gets `uniform_(-1/sqrt(fan_in),
    /// 1/sqrt(fan_in))`. `fan_in` is in_channels * kernel elements (in_features for Linear).
    pub fn init_conv_or_linear(&mut self, weight: &mut [f32], bias: Option<&mut [f32]>, fan_in: usize) {
        let a = 5f64.sqrt();
        let gain = (2.0 / (1.0 + a * a)).sqrt();
        let std = gain / (fan_in as f64).sqrt();
        let bound = 3f64.sqrt() * std;
        self.uniform_f32(-bound, bound, weight);
        // PyTorch skips the bias when fan_in is 0.
        if let Some(b) = bias.filter(|_| fan_in != 0) {
            let bound = 1.0 / (fan_in as f64).sqrt();
            self.uniform_f32(-bound, bound, b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::TorchGenerator;
    use safetensors::SafeTensors;

    /// The PyTorch reference fixtures the repository ships (`tests/fixtures/torch`).
    const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/torch");

    fn load(name: &str) -> Vec<u8> {
        let path = format!("{FIXTURES}/{name}");
        std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
    }

    fn f32s(st: &SafeTensors, name: &str) -> Vec<f32> {
        let t = st.tensor(name).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(t.dtype(), safetensors::Dtype::F32, "{name}");
        t.data().chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
    }

    fn model_of(bytes: &[u8]) -> String {
        let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
        let case = &meta.metadata().as_ref().unwrap()["case"];
        let v: serde_json::Value = serde_json::from_str(case).unwrap();
        v["model"].as_str().unwrap().to_string()
    }

    fn assert_bits(ours: &[f32], theirs: &[f32], what: &str) {
        assert_eq!(ours.len(), theirs.len(), "{what}: length");
        for (i, (a, b)) in ours.iter().zip(theirs).enumerate() {
            assert_eq!(a.to_bits(), b.to_bits(), "{what}[{i}]: ours {a} torch {b}");
        }
    }

    /// (state-dict prefix, weight numel, fan_in, has bias) for each layer that draws.
    fn check_init(file: &str, seed: u64, model: &str, layers: &[(&str, usize, usize, bool)]) {
        let bytes = load(file);
        assert_eq!(model_of(&bytes), model, "{file}: fixture describes another model");
        let st = SafeTensors::deserialize(&bytes).unwrap();
        let mut g = TorchGenerator::manual_seed(seed);
        for &(prefix, numel, fan_in, has_bias) in layers {
            let want_w = f32s(&st, &format!("init.{prefix}.weight"));
            let mut w = vec![0f32; numel];
            if has_bias {
                let want_b = f32s(&st, &format!("init.{prefix}.bias"));
                let mut b = vec![0f32; want_b.len()];
                g.init_conv_or_linear(&mut w, Some(&mut b), fan_in);
                assert_bits(&w, &want_w, &format!("{file} init.{prefix}.weight"));
                assert_bits(&b, &want_b, &format!("{file} init.{prefix}.bias"));
            } else {
                g.init_conv_or_linear(&mut w, None, fan_in);
                assert_bits(&w, &want_w, &format!("{file} init.{prefix}.weight"));
            }
        }
    }

    #[test]
    fn raw_words_match_mt19937() {
        // std::mt19937 default seed 5489: the 10000th output is 4123659995 (C++ standard).
        let mut g = TorchGenerator::manual_seed(5489);
        let mut last = 0;
        for _ in 0..10000 {
            last = g.random();
        }
        assert_eq!(last, 4_123_659_995);
        // Only the low 32 bits of the seed are used.
        let mut a = TorchGenerator::manual_seed(7);
        let mut b = TorchGenerator::manual_seed(7 + (1 << 32));
        assert_eq!(a.random64(), b.random64());
    }

    #[test]
    fn init_pattern1d() {
        check_init(
            "train_pattern1d.safetensors",
            0,
            "conv1d(4,k=5,p=2) relu maxpool1d(20) flatten linear(1)",
            &[("0", 4 * 5, 5, true), ("4", 4, 4, true)],
        );
    }

    #[test]
    fn init_sim1d_bn() {
        check_init(
            "train_sim1d_bn.safetensors",
            1,
            "conv1d(4,k=3,p=1,bias=false) batchnorm1d relu flatten linear(1)",
            &[("0", 4 * 2 * 3, 2 * 3, false), ("4", 20, 20, true)],
        );
    }

    #[test]
    fn init_mnist_lab() {
        check_init(
            "train_mnist_lab.safetensors",
            2,
            "conv2d(8,k=5,p=2) relu maxpool2d(2) flatten linear(10)",
            &[("0", 8 * 25, 25, true), ("4", 10 * 1568, 1568, true)],
        );
    }

    #[test]
    fn init_simplecnn_adam() {
        check_init(
            "train_simplecnn_adam.safetensors",
            3,
            "conv2d(16,k=3,p=1) relu maxpool2d(2) conv2d(32,k=3,p=1) relu maxpool2d(2) \
             flatten linear(32) relu linear(10)",
            &[
                ("0", 16 * 9, 9, true),
                ("3", 32 * 16 * 9, 16 * 9, true),
                ("7", 32 * 1568, 1568, true),
                ("9", 10 * 32, 32, true),
            ],
        );
    }
}
